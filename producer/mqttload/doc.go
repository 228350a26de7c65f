// Package mqttload is benchpipe's MQTT load generator: the engine behind `producer mqtt`. It measures an MQTT
// 3.1.1 broker (the NATS perftarget, Mosquitto, any other) end to end: publishers send, subscribers in the same
// process receive, and every message tells the subscriber who sent it, its sequence number and when it was meant
// to be sent.
//
// # Pieces
//
//	Config, Connect, Bench.Run    the engine: connections, schedule, receive path, loss accounting (engine.go,
//	                              publisher.go, subscriber.go, sequence.go)
//	producer/stats                recording, intervals, figures and printing, shared with other generators
//	Spec, ParseSpec, DecodeSpec   one run as a job: the command line's flags, or a fleet job's JSON (spec.go)
//	Execute                       one run's lifecycle: records, progress, summary, for the CLI and the agent (cli.go)
//	Run                           the command line: flags → Spec → Execute → exit status (cli.go)
//
// # Open-loop schedule and coordinated omission
//
// With --rate R the publishers together send message k of the run at start + k/R (wrk2's approach); a publisher
// that falls behind, because the broker stalled or its in-flight window is full, sends the overdue messages back
// to back and never skips one. The payload carries the intended send time and the actual one, so subscribers
// report two latencies: from the intended time (Figures.Latency, corrected for coordinated omission: a stall
// shows in every message it delayed) and from the actual send time (MQTTFigures.Uncorrected*, what a closed-loop
// tool would report). With --rate 0 there is no schedule; both latencies are then measured from the send time.
// Offered rate (R) and achieved rate (sent per second) are reported side by side.
//
// paho has no global limit on unconfirmed publishes, so each publisher keeps its own window (--inflight):
// publishes written but not yet confirmed (written for QoS 0, PUBACK for QoS 1, PUBCOMP for QoS 2).
//
// # Loss, duplicates, order
//
// Each subscriber tracks every publisher it should hear (the publishers whose topic its filter matches):
//
//   - a sequence number above the next expected one opens a gap: its numbers are missing;
//   - a missing number that arrives later is out of order; a number already received is a duplicate;
//   - at the end, a publisher's confirmed messages that its subscribers never received are lost, including
//     the tail after the last arrival. Publishes that failed are not expected, so they are errors, not loss.
//
// A sample's lost figure is the gaps opened in its interval (provisional: a late arrival turns one into out of
// order). The summary's lost figure is exact: it is computed at the end over messages scheduled in the
// measurement phase. Messages with a different run tag (retained messages of earlier runs, another generator on
// the same topics) are ignored and counted as foreign.
//
// # Samples and the summary
//
// A sample counts a message in the interval in which it was confirmed or arrived; samples are whole intervals
// (the deliveries after the last publish join the last one). The summary counts the messages scheduled in the
// measurement phase (by their intended send time), wherever they were confirmed or arrived, so its sent,
// received and lost add up exactly; its time is the scheduled measurement (warm-up end to the end of the
// schedule), and its rates are its counts over that time. Measured samples and the summary thus differ by the
// few messages in flight at the warm-up's end.
//
// # Failures
//
// Clients never reconnect: a dropped connection is counted (errors, disconnects), publishing stops, and the run
// ends with status failed and Summary.Extra {"partial": true}: its figures cover the time until the drop. Failed
// publishes also make a run failed. Cancelling the context (SIGINT, SIGTERM) ends the run as aborted and partial;
// it is still summarised. Loss never fails a run: it is a measurement.
//
// # Payload
//
// See HeaderSize for the binary header; the rest of the payload is zero padding up to --size.
package mqttload
