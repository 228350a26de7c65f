package mqttload

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// idPlaceholder in a topic pattern stands for the client's index: the publisher's index in the topic a publisher
// publishes to, the subscriber's index in the filter a subscriber subscribes to.
const idPlaceholder = "{id}"

// expandTopic substitutes index for {id} in pattern.
func expandTopic(pattern string, index int) string {
	return strings.ReplaceAll(pattern, idPlaceholder, strconv.Itoa(index))
}

// checkTopicName validates a topic to publish to (no wildcards).
func checkTopicName(t string) error {
	switch {
	case t == "":
		return errors.New("empty topic")
	case strings.ContainsAny(t, "+#"):
		return fmt.Errorf("topic %q: a publish topic cannot contain the wildcards + or #", t)
	case strings.ContainsRune(t, 0):
		return fmt.Errorf("topic %q contains a NUL character", t)
	}
	return nil
}

// checkTopicFilter validates a subscription filter: + fills a whole level, # only the whole last level.
func checkTopicFilter(f string) error {
	if f == "" {
		return errors.New("empty topic filter")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("topic filter %q: + must fill a whole level", f)
		}
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("topic filter %q: # must be the whole last level", f)
		}
	}
	return nil
}

// topicMatches reports whether topic matches the MQTT filter (MQTT 3.1.1 §4.7, without the $-topic rule, which
// benchmark topics never need).
func topicMatches(filter, topic string) bool {
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fl {
		if f == "#" {
			return true // also matches the parent level: "a/#" matches "a"
		}
		if i >= len(tl) || (f != "+" && f != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}
