package target

import (
	"github.com/nats-io/nats-server/v2/server"
)

// Stats is a snapshot of the server's counters, read from nats-server's /varz. Counters only grow while the
// server runs.
//
// Message and byte counts are those of client connections, not the server's internal JetStream traffic: an MQTT
// PUBLISH counts once whatever its QoS, and its bytes are the payload plus the topic and the small header
// nats-server adds when it turns the PUBLISH into a NATS message. nats-server (2.15) does not count what it
// delivers to MQTT subscribers at all, so OutMsgs and OutBytes cover NATS-protocol subscribers only; measure MQTT
// deliveries at the subscribing client.
type Stats struct {
	Connections      int    // client connections open now, MQTT and NATS
	MQTTConnections  int    // of those, MQTT clients (one per connected MQTT session)
	TotalConnections uint64 // client connections accepted since start

	InMsgs   int64 // messages received from clients
	InBytes  int64 // bytes received from clients in messages (payload, subject, headers)
	OutMsgs  int64 // messages delivered to NATS-protocol clients (deliveries to MQTT clients are not counted)
	OutBytes int64 // payload bytes delivered to NATS-protocol clients

	Subscriptions uint32 // NATS subscriptions; an MQTT filter ending in "#" counts twice
	SlowConsumers int64  // clients disconnected since start for not reading fast enough

	JetStreamMemory uint64 // bytes JetStream holds in memory
	JetStreamStore  uint64 // bytes JetStream holds on disk: sessions, retained and unacknowledged QoS 1/2 messages
}

// Stats reads the server's counters (nats-server's /varz, and /connz for the MQTT connections). It returns the
// zero Stats after Shutdown.
func (s *Server) Stats() Stats {
	v, err := s.ns.Varz(nil)
	if err != nil || !s.ns.Running() {
		return Stats{}
	}
	st := Stats{
		Connections:      v.Connections,
		TotalConnections: v.TotalConnections,
		InMsgs:           v.InClientMsgs,
		InBytes:          v.InClientBytes,
		OutMsgs:          v.OutClientMsgs,
		OutBytes:         v.OutClientBytes,
		Subscriptions:    v.Subscriptions,
		SlowConsumers:    v.SlowConsumers,
	}
	if v.JetStream.Stats != nil {
		st.JetStreamMemory = v.JetStream.Stats.Memory
		st.JetStreamStore = v.JetStream.Stats.Store
	}
	st.MQTTConnections = s.mqttConnections(v.Connections)
	return st
}

// mqttConnections counts the open connections that speak MQTT. nats-server keeps the MQTT session count to
// itself; /connz marks each MQTT connection with its client ID.
func (s *Server) mqttConnections(open int) int {
	if open == 0 {
		return 0
	}
	cz, err := s.ns.Connz(&server.ConnzOptions{Limit: open + 64, State: server.ConnOpen})
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range cz.Conns {
		if c.MQTTClient != "" {
			n++
		}
	}
	return n
}
