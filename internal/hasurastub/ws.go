package hasurastub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
)

// The graphql-ws protocol (subprotocol "graphql-transport-ws", github.com/enisdenjo/graphql-ws PROTOCOL.md), which
// Hasura v2 serves on /v1/graphql beside subscriptions-transport-ws. Close codes are the protocol's.
const (
	wsProtocol       = "graphql-transport-ws"
	closeBadMessage  = 4400
	closeUnauthInit  = 4401
	closeInitTimeout = 4408
	closeDuplicateID = 4409
	closeTooManyInit = 4429
	closeForbidden   = 4403
)

// wsMessage is one graphql-ws message.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// serveWebsocket runs one graphql-ws connection until the client or Close ends it. Every subscription is polled:
// a live query is re-run every refetch interval and sent again only when its answer changed; a stream sends each
// non-empty batch after its cursor and moves the cursor to the batch's last row, as Hasura does (both polled every
// second by default in Hasura: HASURA_GRAPHQL_LIVE_QUERIES_MULTIPLEXED_REFETCH_INTERVAL and
// HASURA_GRAPHQL_STREAMING_QUERIES_MULTIPLEXED_REFETCH_INTERVAL).
func (s *Server) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wsProtocol}})
	if err != nil {
		return // Accept has answered the request
	}
	if conn.Subprotocol() != wsProtocol {
		_ = conn.Close(websocket.StatusProtocolError, "hasurastub speaks graphql-transport-ws (graphql-ws) only")
		return
	}
	s.wsWG.Add(1)
	defer s.wsWG.Done()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()

	var wmu sync.Mutex
	send := func(m wsMessage) {
		b, _ := json.Marshal(m)
		wmu.Lock()
		defer wmu.Unlock()
		_ = conn.Write(ctx, websocket.MessageText, b)
	}
	closeWith := func(code websocket.StatusCode, reason string) { _ = conn.Close(code, reason) }

	acked := false
	var sess *session
	initTimer := time.AfterFunc(s.initTimeout, func() {
		closeWith(closeInitTimeout, "Connection initialisation timeout")
		cancel()
	})
	defer initTimer.Stop()
	var smu sync.Mutex
	subs := map[string]context.CancelFunc{}
	var subWG sync.WaitGroup // the keep-alive and every subscription's poller
	defer func() {
		cancel()
		subWG.Wait()
	}()
	subWG.Add(1)
	go func() { // keep-alive pings, as Hasura sends them (HASURA_GRAPHQL_WEBSOCKET_KEEPALIVE, 5 s by default)
		defer subWG.Done()
		t := time.NewTicker(s.keepAlive)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				send(wsMessage{Type: "ping"})
			}
		}
	}()

	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil && s.ctx.Err() != nil {
				closeWith(websocket.StatusGoingAway, "server shutting down")
			}
			return
		}
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
			closeWith(closeBadMessage, "Invalid message received")
			return
		}
		switch m.Type {
		case "connection_init":
			if acked {
				closeWith(closeTooManyInit, "Too many initialisation requests")
				return
			}
			initTimer.Stop()
			// Hasura (Hasura.GraphQL.Transport.WebSocket, onConnInit) authenticates the connection once, with the
			// headers of the init payload's "headers" object and those of the handshake; a refusal closes a
			// graphql-ws connection with 4403 Forbidden.
			var p struct {
				Headers map[string]string `json:"headers"`
			}
			_ = json.Unmarshal(m.Payload, &p)
			h := http.Header{}
			for name, vals := range r.Header {
				if lower := strings.ToLower(name); !strings.HasPrefix(lower, "sec-websocket-") && lower != "upgrade" {
					h[name] = vals
				}
			}
			params := http.Header{}
			for name, v := range p.Headers {
				h.Set(name, v)
				params.Set(name, v)
			}
			var gerr *gqlError
			if sess, gerr = s.authenticate(ctx, h); gerr != nil {
				closeWith(closeForbidden, "Forbidden")
				return
			}
			sess.headers = params // what an action with forward_client_headers receives on a websocket
			acked = true
			send(wsMessage{Type: "connection_ack"})
		case "ping":
			send(wsMessage{Type: "pong", Payload: m.Payload})
		case "pong":
		case "subscribe":
			if !acked {
				closeWith(closeUnauthInit, "Unauthorized")
				return
			}
			var p struct {
				Query         string          `json:"query"`
				Variables     json.RawMessage `json:"variables"`
				OperationName string          `json:"operationName"`
			}
			if m.ID == "" || json.Unmarshal(m.Payload, &p) != nil {
				closeWith(closeBadMessage, "Invalid message received")
				return
			}
			smu.Lock()
			_, dup := subs[m.ID]
			smu.Unlock()
			if dup {
				closeWith(closeDuplicateID, fmt.Sprintf("Subscriber for %s already exists", m.ID))
				return
			}
			s.record(Request{Query: p.Query, Variables: p.Variables, OperationName: p.OperationName, Header: r.Header.Clone(), Websocket: true, Role: sess.role})
			pl, gerr := s.compile(p.Query, p.Variables, p.OperationName, sess.role)
			if gerr != nil {
				b, _ := json.Marshal([]any{gerr.response()})
				send(wsMessage{Type: "error", ID: m.ID, Payload: b})
				continue
			}
			if pl.op == ast.Mutation || len(pl.actions) > 0 {
				// A mutation, or a query with actions, runs once: its result, then complete.
				run := s.runMutation
				if pl.op == ast.Query {
					run = s.runQuery
				}
				data, gerr := run(ctx, pl, sess, p.Query)
				payload := `{"data":` + data + `}`
				if gerr != nil {
					b, _ := json.Marshal(map[string]any{"errors": []any{gerr.response()}})
					payload = string(b)
				}
				send(wsMessage{Type: "next", ID: m.ID, Payload: json.RawMessage(payload)})
				send(wsMessage{Type: "complete", ID: m.ID})
				continue
			}
			subCtx, subCancel := context.WithCancel(ctx)
			smu.Lock()
			subs[m.ID] = subCancel
			smu.Unlock()
			subWG.Add(1)
			go func(id string) {
				defer subWG.Done()
				s.poll(subCtx, pl, func(payload string) {
					send(wsMessage{Type: "next", ID: id, Payload: json.RawMessage(payload)})
				})
				smu.Lock()
				defer smu.Unlock()
				if subs[id] != nil && subCtx.Err() == nil {
					delete(subs, id)
					send(wsMessage{Type: "complete", ID: id}) // a query or mutation ends after one result
				}
			}(m.ID)
		case "complete":
			smu.Lock()
			if c := subs[m.ID]; c != nil {
				c()
				delete(subs, m.ID)
			}
			smu.Unlock()
		default:
			closeWith(closeBadMessage, "Invalid message received")
			return
		}
	}
}

// poll runs a subscription (or, sent over the websocket, a query once) until ctx ends, handing each payload to
// send.
func (s *Server) poll(ctx context.Context, pl *plan, send func(payload string)) {
	var last string
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.refetch):
			}
		}
		data, cursor, gerr := s.run(ctx, pl)
		if ctx.Err() != nil {
			return
		}
		var payload string
		switch {
		case gerr != nil:
			b, _ := json.Marshal(map[string]any{"errors": []any{gerr.response()}})
			payload = string(b)
		case pl.stream != nil && cursor == nil:
			continue // an empty batch: nothing is sent, the cursor stays
		case pl.stream != nil:
			pl.args[pl.stream.param] = *cursor
			payload = `{"data":` + data + `}`
		default:
			payload = `{"data":` + data + `}`
		}
		if pl.stream == nil && payload == last {
			continue // a live query sends only changes
		}
		last = payload
		send(payload)
		if pl.op != ast.Subscription {
			return
		}
	}
}
