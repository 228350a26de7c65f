package hasurastub_test

// The websocket transport of the stand-in, checked the way the viewer uses it: graphql-ws (subprotocol
// graphql-transport-ws), a streaming subscription on samples that sends each new row once, a live query on the run
// row that is sent again only when the row changes, and Hasura's refusal of a field the role may not read.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
)

type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan map[string]any
	err  chan error
}

// dialWS connects; one goroutine reads every message (coder/websocket closes a connection whose read is cancelled,
// so reads are not given deadlines).
func dialWS(t *testing.T, url string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	if conn.Subprotocol() != "graphql-transport-ws" {
		t.Fatalf("subprotocol %q", conn.Subprotocol())
	}
	c := &wsClient{t: t, conn: conn, msgs: make(chan map[string]any, 100), err: make(chan error, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				c.err <- err
				return
			}
			var m map[string]any
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				c.err <- err
				return
			}
			if m["type"] != "ping" {
				c.msgs <- m
			}
		}
	}()
	t.Cleanup(func() { _ = conn.CloseNow(); <-done })
	return c
}

func (c *wsClient) send(msg string) {
	c.t.Helper()
	if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next message that is not a keep-alive ping, or the read error, within d.
func (c *wsClient) next(d time.Duration) (map[string]any, error) {
	select {
	case m := <-c.msgs:
		return m, nil
	case err := <-c.err:
		return nil, err
	case <-time.After(d):
		return nil, context.DeadlineExceeded
	}
}

func (c *wsClient) expect(want string) {
	c.t.Helper()
	m, err := c.next(5 * time.Second)
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", want, err)
	}
	got, _ := json.Marshal(m)
	var w any
	_ = json.Unmarshal([]byte(want), &w)
	wb, _ := json.Marshal(w)
	if string(got) != string(wb) {
		c.t.Fatalf("message\n got %s\nwant %s", got, wb)
	}
}

func (c *wsClient) expectNothing(d time.Duration) {
	c.t.Helper()
	if m, err := c.next(d); err == nil {
		c.t.Fatalf("unexpected message %v", m)
	}
}

func TestSubscriptionsOverGraphQLWS(t *testing.T) {
	d := migratedDeployment(t)
	srv := hasurastub.New(t, d.HasuraURL, loadMetadata(t), hasurastub.WithRefetchInterval(100*time.Millisecond))
	owner, err := pgx.Connect(context.Background(), d.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(context.Background())

	c := dialWS(t, srv.URL)
	c.send(`{"type":"connection_init"}`)
	c.expect(`{"type":"connection_ack"}`)
	c.send(`{"type":"ping","payload":{"x":1}}`)
	c.expect(`{"type":"pong","payload":{"x":1}}`)

	// The viewer's RUN_SAMPLES_STREAM: rows after seq 1, two at a time, then each new row once.
	c.send(`{"type":"subscribe","id":"s","payload":{"operationName":"RunSamplesStream","query":"subscription RunSamplesStream($id: uuid!, $afterSeq: bigint!, $batch: Int!) { samples_stream(batch_size: $batch, cursor: {initial_value: {seq: $afterSeq}, ordering: ASC}, where: {run_id: {_eq: $id}}) { seq phase } }","variables":{"id":"` + runA + `","afterSeq":1,"batch":1}}}`)
	c.expect(`{"type":"next","id":"s","payload":{"data":{"samples_stream":[{"seq":2,"phase":"measure"}]}}}`)
	c.expect(`{"type":"next","id":"s","payload":{"data":{"samples_stream":[{"seq":3,"phase":"measure"}]}}}`)
	c.expectNothing(400 * time.Millisecond)

	// The viewer's RUN_LIVE_SUBSCRIPTION: the row now, and again only when it changes.
	c.send(`{"type":"subscribe","id":"r","payload":{"query":"subscription RunLive($id: uuid!) { runs_by_pk(run_id: $id) { status } }","variables":{"id":"` + runC + `"}}}`)
	c.expect(`{"type":"next","id":"r","payload":{"data":{"runs_by_pk":{"status":"running"}}}}`)
	c.expectNothing(400 * time.Millisecond)
	if _, err := owner.Exec(context.Background(), `INSERT INTO samples (run_id, seq, interval_start, interval_end, phase, ops, ops_rate, errors)
		VALUES ('`+runA+`', 4, '2026-01-02 03:04:08+00', '2026-01-02 03:04:09+00', 'measure', 1, 1, 0)`); err != nil {
		t.Fatal(err)
	}
	c.expect(`{"type":"next","id":"s","payload":{"data":{"samples_stream":[{"seq":4,"phase":"measure"}]}}}`)
	if _, err := owner.Exec(context.Background(), `UPDATE runs SET status = 'ok' WHERE run_id = '`+runC+`'`); err != nil {
		t.Fatal(err)
	}
	c.expect(`{"type":"next","id":"r","payload":{"data":{"runs_by_pk":{"status":"ok"}}}}`)

	// complete ends a subscription; a refused one gets an error message with Hasura's error.
	c.send(`{"type":"complete","id":"s"}`)
	c.send(`{"type":"complete","id":"r"}`)
	c.send(`{"type":"subscribe","id":"e","payload":{"query":"subscription { runs { nope } }"}}`)
	c.expect(`{"type":"error","id":"e","payload":[{"message":"field 'nope' not found in type: 'runs'","extensions":{"code":"validation-failed","path":"$.selectionSet.runs.selectionSet.nope"}}]}`)
	c.send(`{"type":"subscribe","id":"two","payload":{"query":"subscription { a: runs { run_id } b: runs { run_id } }"}}`)
	c.expect(`{"type":"error","id":"two","payload":[{"message":"subscriptions must select one top level field","extensions":{"code":"validation-failed","path":"$"}}]}`)
	c.expectNothing(300 * time.Millisecond)

	// Protocol errors close the socket with graphql-ws's codes.
	c.send(`{"type":"connection_init"}`)
	if _, err := c.next(5 * time.Second); websocket.CloseStatus(err) != 4429 {
		t.Fatalf("second connection_init: %v, want close 4429", err)
	}
	c = dialWS(t, srv.URL)
	c.send(`{"type":"subscribe","id":"x","payload":{"query":"subscription { runs { run_id } }"}}`)
	if _, err := c.next(5 * time.Second); websocket.CloseStatus(err) != 4401 {
		t.Fatalf("subscribe before ack: %v, want close 4401", err)
	}

	var ws int
	for _, r := range srv.Requests() {
		if r.Websocket {
			ws++
		}
	}
	if ws != 4 {
		t.Errorf("recorded %d websocket subscriptions, want 4", ws)
	}
}

// The permission's row limit caps each stream batch, as it caps every select of the role.
func TestStreamBatchIsCappedByThePermissionLimit(t *testing.T) {
	d := migratedDeployment(t)
	md := loadMetadata(t)
	md.Tables["samples"].Select["anonymous"].Limit = 2
	srv := hasurastub.New(t, d.HasuraURL, md, hasurastub.WithRefetchInterval(50*time.Millisecond))
	c := dialWS(t, srv.URL)
	c.send(`{"type":"connection_init","payload":{}}`)
	c.expect(`{"type":"connection_ack"}`)
	c.send(`{"type":"subscribe","id":"1","payload":{"query":"subscription ($s: bigint!) { samples_stream(batch_size: 100, cursor: [{initial_value: {seq: $s}}]) { seq } }","variables":{"s":0}}}`)
	c.expect(`{"type":"next","id":"1","payload":{"data":{"samples_stream":[{"seq":1},{"seq":2}]}}}`)
	c.expect(`{"type":"next","id":"1","payload":{"data":{"samples_stream":[{"seq":3}]}}}`)
	c.expectNothing(300 * time.Millisecond)
}
