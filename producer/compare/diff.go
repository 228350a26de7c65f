package compare

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// jsonDiff lists the keys in which two JSON objects differ, with both values: "rate 1000 → 2000", nested keys
// dotted ("tls.enabled false → true"), a key only one side has as "(none)" on the other. Arrays and scalars are
// compared whole. Two blobs side by side leave the reader to find the one differing key among twenty; this does
// it for them. Values that are not both objects are shown whole.
func jsonDiff(base, cand jsonb) []string {
	var a, b any
	if json.Unmarshal(base, &a) != nil || json.Unmarshal(cand, &b) != nil {
		return []string{fmt.Sprintf("%s → %s", compactJSON(json.RawMessage(base)), compactJSON(json.RawMessage(cand)))}
	}
	var out []string
	diffValue("", a, b, &out)
	return out
}

func diffValue(path string, a, b any, out *[]string) {
	ma, aObj := a.(map[string]any)
	mb, bObj := b.(map[string]any)
	if a == nil && bObj { // no tags at all reads as no keys
		ma, aObj = map[string]any{}, true
	}
	if b == nil && aObj {
		mb, bObj = map[string]any{}, true
	}
	if aObj && bObj {
		keys := map[string]bool{}
		for k := range ma {
			keys[k] = true
		}
		for k := range mb {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			va, inA := ma[k]
			vb, inB := mb[k]
			child := k
			if path != "" {
				child = path + "." + k
			}
			switch {
			case !inA:
				*out = append(*out, fmt.Sprintf("%s (none) → %s", child, show(vb)))
			case !inB:
				*out = append(*out, fmt.Sprintf("%s %s → (none)", child, show(va)))
			default:
				diffValue(child, va, vb, out)
			}
		}
		return
	}
	if show(a) != show(b) {
		if path == "" {
			*out = append(*out, fmt.Sprintf("%s → %s", show(a), show(b)))
			return
		}
		*out = append(*out, fmt.Sprintf("%s %s → %s", path, show(a), show(b)))
	}
}

// show renders a decoded JSON value compactly; Marshal sorts object keys, so equal values show equal.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// diffNote is the note for two differing JSON objects, e.g. "the parameters differ (baseline → candidate): qos
// 0 → 1; rate 1000 → 2000".
func diffNote(what string, base, cand jsonb) string {
	return fmt.Sprintf("the %s differ (baseline → candidate): %s", what, strings.Join(jsonDiff(base, cand), "; "))
}
