package mqttload

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestBufferedConnKeepsOrderAndFlushesOnClose(t *testing.T) {
	a, b := net.Pipe()
	c := newBufferedConn(a)
	got := make(chan string, 1)
	go func() {
		all, _ := io.ReadAll(b)
		got <- string(all)
	}()
	for _, s := range []string{"one ", "two ", "three"} {
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "one two three" {
		t.Fatalf("peer read %q", s)
	}
	if _, err := c.Write([]byte("late")); err == nil {
		t.Fatal("write after close succeeded")
	}
}

func TestBufferedConnReportsSocketErrors(t *testing.T) {
	a, b := net.Pipe()
	b.Close()
	c := newBufferedConn(a)
	defer c.Close()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, err := c.Write([]byte("x")); err != nil {
			return // the flusher's failure reached paho's next write
		}
		if time.Now().After(deadline) {
			t.Fatal("writes keep succeeding on a closed socket")
		}
		time.Sleep(time.Millisecond)
	}
}
