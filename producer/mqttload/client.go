package mqttload

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/benchpipe/benchpipe/schema"
)

// ErrConnect is wrapped by the error Connect returns when a client cannot connect to the broker.
var ErrConnect = errors.New("cannot connect to the MQTT broker")

// dial connects one MQTT 3.1.1 client. onLost is called if the connection drops later.
//
// Auto-reconnect is off on purpose: a benchmark connection that drops has to be counted, not hidden, and with
// auto-reconnect paho reports QoS 0 publishes made while disconnected as successful without sending them.
func dial(ctx context.Context, cfg *Config, clientID string, onLost func(error)) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(clientID).
		SetProtocolVersion(4). // MQTT 3.1.1: what every broker, NATS included, speaks
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetKeepAlive(30 * time.Second).
		SetPingTimeout(10 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetOrderMatters(true). // handlers run one at a time in arrival order: reordering is the broker's, not ours
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { onLost(err) })
	if cfg.Username != "" {
		o.SetUsername(cfg.Username).SetPassword(cfg.Password)
	}
	if cfg.TLS != nil {
		o.SetTLSConfig(cfg.TLS)
	}
	if usesOwnDialer(cfg.Broker) {
		o.SetCustomOpenConnectionFn(openConn)
	}
	c := mqtt.NewClient(o)
	// paho cannot cancel a connect in progress, but it gives up after the connect timeout, so this wait is bounded.
	tok := c.Connect()
	<-tok.Done()
	if err := ctx.Err(); err != nil {
		if tok.Error() == nil {
			c.Disconnect(0)
		}
		return nil, fmt.Errorf("connect %s to %s: %w", clientID, schema.RedactURL(cfg.Broker), err)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("%w %s as %s: %v (is the broker running, and are --broker, the credentials and TLS settings right?)",
			ErrConnect, schema.RedactURL(cfg.Broker), clientID, err)
	}
	return c, nil
}

// brokerHostPort splits the broker URL for the record's target fields.
func brokerHostPort(broker string) (host string, port int) {
	u, err := url.Parse(broker)
	if err != nil {
		return "", 0
	}
	port, _ = strconv.Atoi(u.Port())
	return u.Hostname(), port
}
