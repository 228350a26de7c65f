package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Kafka Connect as the thing benchpipe's sink replaces: a standalone worker (ConnectStandalone) running the Debezium
// JDBC sink connector into PostgreSQL, from the jars Maven Central serves (internal/testenv/kafkaconnect/pom.xml,
// resolved like the broker's into the cache dir, Maven's own cache in ~/.m2). sink/bench measures it side by side
// with the sink; kafkaconnect_test.go proves the harness writes every record.

// InstallJava is what to install when java (17 or newer) or mvn is missing: Debian's packages, as .ci/ensure-tools
// installs them.
const InstallJava = "apt-get install -y default-jre-headless maven (Java 17 or newer; or run .ci/ensure-tools as root)"

// KafkaTools finds java (17 or newer, which Kafka 4 needs) and mvn outside a test. The error names what to install.
func KafkaTools() (java, mvn string, err error) {
	if java, err = exec.LookPath("java"); err != nil {
		return "", "", fmt.Errorf("java not found: %s", InstallJava)
	}
	if mvn, err = exec.LookPath("mvn"); err != nil {
		return "", "", fmt.Errorf("mvn (Maven) not found: %s", InstallJava)
	}
	v, err := javaVersion(java)
	if err != nil {
		return "", "", err
	}
	if v < 17 {
		return "", "", fmt.Errorf("%s is Java %d, Kafka 4 needs 17 or newer: %s", java, v, InstallJava)
	}
	return java, mvn, nil
}

// KafkaConnectLib resolves the jars of the Kafka Connect worker, the Debezium JDBC sink connector and the
// PostgreSQL driver from Maven Central once and returns the directory for `java -cp 'DIR/*'`.
func KafkaConnectLib(ctx context.Context, mvn string) (string, error) {
	return resolveLib(ctx, mvn, "kafkaconnect", "kafka-connect", "", "debezium-connector-jdbc-*.jar")
}

// KafkaConnectOptions says what a standalone worker runs.
type KafkaConnectOptions struct {
	Brokers []string // bootstrap.servers
	// Worker overrides or adds worker properties (consumer.* are the sink tasks' consumer settings).
	Worker map[string]string
	// Connector is the connector's properties (name, connector.class, topics, …), e.g. DebeziumJDBCSink's.
	Connector map[string]string
	Heap      []string // JVM heap options; default -Xms256m -Xmx1g
}

// KafkaConnect is a running standalone Kafka Connect worker.
type KafkaConnect struct {
	Dir       string // worker.properties, connector.properties, connect.log, offsets
	Name      string // the connector's name
	RESTAddr  string // 127.0.0.1:port of the worker's REST API
	StartTime time.Duration

	cmd   *exec.Cmd
	exitc chan struct{}
}

// StartKafkaConnect writes the worker's and the connector's properties into a fresh directory, starts
// ConnectStandalone with the jars in lib and waits until the connector and all its tasks are RUNNING. JVM start-up
// is over when it returns; the tasks' consumers may still be joining their group. Stop it with Remove.
func StartKafkaConnect(ctx context.Context, java, lib string, o KafkaConnectOptions) (*KafkaConnect, error) {
	name := o.Connector["name"]
	if name == "" || len(o.Brokers) == 0 {
		return nil, errors.New("kafka connect: the connector needs a name and the worker brokers")
	}
	dir, err := os.MkdirTemp("", "benchpipe-connect-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &KafkaConnect{Dir: dir, Name: name, RESTAddr: fmt.Sprintf("127.0.0.1:%d", port)}
	worker := map[string]string{
		"bootstrap.servers": strings.Join(o.Brokers, ","),
		"listeners":         "http://" + c.RESTAddr,
		// Keys are the sink's record keys (text); values carry their schema, which the JDBC sink needs.
		"key.converter":                  "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "true",
		"offset.storage.file.filename":   filepath.Join(dir, "connect.offsets"),
		"plugin.discovery":               "only_scan", // everything is on the class path; no plugin.path
	}
	for k, v := range o.Worker {
		worker[k] = v
	}
	log4j := "rootLogger.level=INFO\nrootLogger.appenderRef.file.ref=file\n" +
		"appender.file.type=File\nappender.file.name=file\nappender.file.fileName=" + filepath.Join(dir, "connect.log") + "\n" +
		"appender.file.layout.type=PatternLayout\nappender.file.layout.pattern=[%d] %p %m (%c)%n\n" +
		// Hibernate logs every batch at INFO otherwise.
		"logger.hibernate.name=org.hibernate\nlogger.hibernate.level=WARN\n"
	for file, content := range map[string]string{
		"worker.properties":    properties(worker),
		"connector.properties": properties(o.Connector),
		"log4j2.properties":    log4j,
	} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	heap := o.Heap
	if len(heap) == 0 {
		heap = []string{"-Xms256m", "-Xmx1g"}
	}
	args := append(append([]string{}, heap...), "-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile="+filepath.Join(dir, "log4j2.properties"),
		"-cp", filepath.Join(lib, "*"), "org.apache.kafka.connect.cli.ConnectStandalone",
		filepath.Join(dir, "worker.properties"), filepath.Join(dir, "connector.properties"))
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer out.Close()
	// Not ctx: the worker outlives the call that starts it. Pdeathsig: no worker left behind by a killed parent.
	c.cmd = exec.Command(java, args...)
	c.cmd.Dir, c.cmd.Stdout, c.cmd.Stderr = dir, out, out
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	began := time.Now()
	if err := c.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start kafka connect: %w", err)
	}
	c.exitc = make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(c.exitc) }()
	if err := c.waitRunning(ctx, 3*time.Minute); err != nil {
		tail := c.LogTail(6000)
		c.Remove()
		return nil, fmt.Errorf("kafka connect: %w\n%s", err, tail)
	}
	c.StartTime = time.Since(began)
	return c, nil
}

func properties(m map[string]string) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# written by internal/testenv (kafkaconnect.go)\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, escapeProperty(m[k]))
	}
	return b.String()
}

// connectorStatus is GET /connectors/{name}/status.
type connectorStatus struct {
	Connector struct {
		State string `json:"state"`
		Trace string `json:"trace"`
	} `json:"connector"`
	Tasks []struct {
		ID    int    `json:"id"`
		State string `json:"state"`
		Trace string `json:"trace"`
	} `json:"tasks"`
}

// Status returns the states of the connector and its tasks ("RUNNING", "FAILED", …) from the REST API, with the
// first failure's stack trace.
func (c *KafkaConnect) Status(ctx context.Context) (connector string, tasks []string, trace string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"http://"+c.RESTAddr+"/connectors/"+url.PathEscape(c.Name)+"/status", nil)
	if err != nil {
		return "", nil, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", nil, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", nil, "", fmt.Errorf("connector status: %s: %s", resp.Status, body)
	}
	var st connectorStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return "", nil, "", err
	}
	trace = st.Connector.Trace
	for _, t := range st.Tasks {
		tasks = append(tasks, t.State)
		if trace == "" {
			trace = t.Trace
		}
	}
	return st.Connector.State, tasks, trace, nil
}

// Failed returns an error when the worker exited or the connector or a task failed, nil while all is well.
func (c *KafkaConnect) Failed(ctx context.Context) error {
	select {
	case <-c.exitc:
		return errors.New("the worker exited")
	default:
	}
	conn, tasks, trace, err := c.Status(ctx)
	if err != nil {
		return nil // not answering is not failing: the worker may be busy
	}
	if conn == "FAILED" || containsState(tasks, "FAILED") {
		return fmt.Errorf("connector %s %s, tasks %v: %s", c.Name, conn, tasks, trace)
	}
	return nil
}

func containsState(states []string, want string) bool {
	for _, s := range states {
		if s == want {
			return true
		}
	}
	return false
}

func (c *KafkaConnect) waitRunning(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		select {
		case <-c.exitc:
			return errors.New("the worker exited")
		default:
		}
		conn, tasks, trace, err := c.Status(ctx)
		if err == nil {
			if conn == "FAILED" || containsState(tasks, "FAILED") {
				return fmt.Errorf("connector %s %s, tasks %v: %s", c.Name, conn, tasks, trace)
			}
			if conn == "RUNNING" && len(tasks) > 0 && !containsState(tasks, "UNASSIGNED") && !containsState(tasks, "PAUSED") {
				return nil
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("connector %s not running within %v (last: %v %v %v)", c.Name, limit, conn, tasks, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// LogTail returns the last n bytes of the worker's log (and its stdout, where start-up errors go).
func (c *KafkaConnect) LogTail(n int) string {
	var b strings.Builder
	for _, f := range []string{"stdout.log", "connect.log"} {
		raw, _ := os.ReadFile(filepath.Join(c.Dir, f))
		if len(raw) > n {
			raw = raw[len(raw)-n:]
		}
		if len(raw) > 0 {
			fmt.Fprintf(&b, "--- %s\n%s", f, raw)
		}
	}
	return b.String()
}

// Pid returns the worker's process id (for measuring its CPU time).
func (c *KafkaConnect) Pid() int { return c.cmd.Process.Pid }

// Remove stops the worker (SIGTERM, as docker stop; SIGKILL after 30 s) and deletes its directory.
func (c *KafkaConnect) Remove() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exitc:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exitc
		}
	}
	os.RemoveAll(c.Dir)
}

// JDBCSinkOptions says where the Debezium JDBC sink writes.
type JDBCSinkOptions struct {
	Name        string // connector name (also its consumer group: connect-<name>)
	Topic       string
	DatabaseURL string // postgres://user:password@host:port/db?…, as the sink's DATABASE_URL
	Table       string // the existing table, schema-qualified (e.g. public.samples)
	Tasks       int    // tasks.max; default 1
	BatchSize   int    // batch.size and the tasks' consumer max.poll.records; default 10,000
	// StatementBatches turns the UNNEST insert off: JDBC batches of single-row INSERTs, the connector's default.
	StatementBatches bool
}

// DebeziumJDBCSink returns the connector properties of the Debezium JDBC sink at its documented best for an
// append-only table: insert mode (no upsert, no primary key needed: primary.key.mode=none), PostgreSQL's
// UNNEST batch insert (dialect.postgres.unnest.insert.enabled, "5-10x" per its docs), batch.size records per
// flush with the consumer's max.poll.records raised to match (the docs' advice), no reduction buffer (it folds
// events by primary key; every record here is a new row) and no schema evolution (the table exists, migrated by
// benchpipe). Offsets keep Kafka Connect's default commit interval (offset.flush.interval.ms, 60 s).
func DebeziumJDBCSink(o JDBCSinkOptions) (map[string]string, error) {
	u, err := url.Parse(o.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	jdbc := "jdbc:postgresql://" + u.Host + u.Path
	if q := u.Query(); len(q) > 0 {
		jdbc += "?" + q.Encode()
	}
	tasks, batch := max(o.Tasks, 1), o.BatchSize
	if batch <= 0 {
		batch = 10_000
	}
	props := map[string]string{
		"name":                                   o.Name,
		"connector.class":                        "io.debezium.connector.jdbc.JdbcSinkConnector",
		"tasks.max":                              fmt.Sprint(tasks),
		"topics":                                 o.Topic,
		"connection.url":                         jdbc,
		"connection.username":                    u.User.Username(),
		"insert.mode":                            "insert",
		"primary.key.mode":                       "none",
		"schema.evolution":                       "none",
		"collection.name.format":                 o.Table,
		"batch.size":                             fmt.Sprint(batch),
		"use.reduction.buffer":                   "false",
		"dialect.postgres.unnest.insert.enabled": fmt.Sprint(!o.StatementBatches),
		"consumer.override.max.poll.records":     fmt.Sprint(batch),
	}
	if pw, ok := u.User.Password(); ok {
		props["connection.password"] = pw
	}
	return props, nil
}

// ConnectField is one column of a table as a Kafka Connect struct field.
type ConnectField struct {
	Column string
	schema map[string]any
}

// ConnectFields describes columns of table (schema-qualified) as the fields of a Kafka Connect struct schema the
// Debezium JDBC sink maps onto PostgreSQL's types: uuid → io.debezium.data.Uuid, timestamptz →
// io.debezium.time.ZonedTimestamp (ISO-8601 text, microseconds kept), bigint → int64, double precision → double (FLOAT64),
// text → string, bytea → bytes; NOT NULL columns are required fields.
func ConnectFields(ctx context.Context, conn *pgx.Conn, table string, columns []string) ([]ConnectField, error) {
	schemaName, tableName, ok := strings.Cut(table, ".")
	if !ok {
		return nil, fmt.Errorf("table %q: want schema.table", table)
	}
	types := map[string][2]string{}
	rows, err := conn.Query(ctx, `SELECT column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2`, schemaName, tableName)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var col, typ, nullable string
		if err := rows.Scan(&col, &typ, &nullable); err != nil {
			return nil, err
		}
		types[col] = [2]string{typ, nullable}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var fields []ConnectField
	for _, col := range columns {
		t, ok := types[col]
		if !ok {
			return nil, fmt.Errorf("%s has no column %s", table, col)
		}
		s := map[string]any{"field": col, "optional": t[1] == "YES"}
		switch t[0] {
		case "uuid":
			s["type"], s["name"] = "string", "io.debezium.data.Uuid"
		case "timestamp with time zone":
			s["type"], s["name"] = "string", "io.debezium.time.ZonedTimestamp"
		case "bigint":
			s["type"] = "int64"
		case "integer":
			s["type"] = "int32"
		case "double precision":
			s["type"] = "double" // JsonConverter's name for FLOAT64
		case "text":
			s["type"] = "string"
		case "bytea":
			s["type"] = "bytes" // base64 in JSON
		default:
			return nil, fmt.Errorf("%s.%s: no Connect mapping for %s", table, col, t[0])
		}
		fields = append(fields, ConnectField{Column: col, schema: s})
	}
	return fields, nil
}

// ConnectRecord encodes a row (values in fields' order: the types pgx writes, e.g. schema.Record.SampleRow) as a
// JsonConverter record with its schema: {"schema": {"type": "struct", …}, "payload": {…}}.
func ConnectRecord(fields []ConnectField, row []any) ([]byte, error) {
	if len(row) != len(fields) {
		return nil, fmt.Errorf("row has %d values for %d fields", len(row), len(fields))
	}
	var sch []map[string]any
	payload := make(map[string]any, len(row))
	for i, f := range fields {
		sch = append(sch, f.schema)
		v, err := connectValue(row[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Column, err)
		}
		payload[f.Column] = v
	}
	return json.Marshal(map[string]any{
		"schema":  map[string]any{"type": "struct", "name": "benchpipe.row", "optional": false, "fields": sch},
		"payload": payload,
	})
}

func connectValue(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case fmt.Stringer: // uuid.UUID, [16]byte types with String
		return x.String(), nil
	case *int64:
		if x == nil {
			return nil, nil
		}
		return *x, nil
	case *float64:
		if x == nil {
			return nil, nil
		}
		return finite(*x)
	case float64:
		return finite(x)
	case []byte:
		if x == nil {
			return nil, nil
		}
		return x, nil // encoding/json writes base64, as JsonConverter reads bytes
	case int64, int32, int, string, bool:
		return x, nil
	}
	return nil, fmt.Errorf("no Connect encoding for %T", v)
}

func finite(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%v has no JSON encoding", f)
	}
	return f, nil
}
