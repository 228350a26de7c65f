package sinetstream_test

import (
	"bytes"
	"time"

	"github.com/benchpipe/benchpipe/schema/sinetstream"
)

// Test messages are built byte by byte from SINETStream's message format, independently of the package's
// encoders:
//
//	v2  = C3 01                     Avro single-object marker
//	      1F 9C 0C 91 EB 33 66 4F   CRC-64-AVRO fingerprint of the message schema, little-endian
//	      long tstamp               µs since the epoch (logicalType timestamp-micros)
//	      long len, len bytes msg   Avro bytes
//	v3  = DF 03 00 00  kv(2 bytes, big-endian; 0 = unencrypted)  v2
//
// and an Avro long is zig-zag encoded ((n << 1) ^ (n >> 63)), then written 7 bits at a time, least significant
// group first, with the high bit set on every byte but the last.
var (
	avroMarker  = []byte{0xC3, 0x01}
	fingerprint = []byte{0x1F, 0x9C, 0x0C, 0x91, 0xEB, 0x33, 0x66, 0x4F}
	v3Header    = []byte{0xDF, 0x03, 0x00, 0x00, 0x00, 0x00}
)

// avroLong is the Avro long encoding, written from the spec above (TestAvroLongVectors checks it against
// vectors computed with Python).
func avroLong(n int64) []byte {
	u := uint64(n<<1) ^ uint64(n>>63)
	var b []byte
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

func handV2(tstampMicros int64, msg []byte) []byte {
	var b bytes.Buffer
	b.Write(avroMarker)
	b.Write(fingerprint)
	b.Write(avroLong(tstampMicros))
	b.Write(avroLong(int64(len(msg))))
	b.Write(msg)
	return b.Bytes()
}

func handV3(tstampMicros int64, msg []byte) []byte {
	return append(append([]byte{}, v3Header...), handV2(tstampMicros, msg)...)
}

func ptr[T any](v T) *T { return &v }

// javaLine is Java perftool 1.6 output (its README's example), with the name the shipping wrapper adds.
const javaLine = `{"name":"edge-pi-01","writer":{"thread_number":0,"start_time":1.648491955007E9,"start_time_ms":1648491955007,"end_time":1.648491955657E9,"end_time_ms":1648491955657,"time":0.65,"time_ms":650,"msg_count_total":300,"msg_count_rate":461.53846153846155,"msg_bytes_total":313200,"msg_bytes_rate":481846.1538461538,"msg_size_min":1044,"msg_size_max":1044,"msg_size_avg":1044.0,"error_count_total":0,"error_count_rate":0.0},"reader":{"thread_number":0,"start_time":1.648491955007E9,"start_time_ms":1648491955007,"end_time":1.648491955659E9,"end_time_ms":1648491955659,"time":0.652,"time_ms":652,"msg_count_total":300,"msg_count_rate":460.12269938650303,"msg_bytes_total":313200,"msg_bytes_rate":480368.0981595092,"msg_size_min":1044,"msg_size_max":1044,"msg_size_avg":1044.0,"error_count_total":0,"error_count_rate":0.0}}`

var javaResult = sinetstream.Result{
	Name: "edge-pi-01",
	Writer: &sinetstream.Side{
		ThreadNumber: 0, StartTime: 1648491955.007, StartTimeMillis: 1648491955007,
		EndTime: 1648491955.657, EndTimeMillis: 1648491955657, Time: 0.65, TimeMillis: 650,
		MsgCountTotal: 300, MsgCountRate: 461.53846153846155, MsgBytesTotal: 313200, MsgBytesRate: 481846.1538461538,
		MsgSizeMin: ptr[int64](1044), MsgSizeMax: ptr[int64](1044), MsgSizeAvg: 1044,
		ErrorCountTotal: 0, ErrorCountRate: 0,
	},
	Reader: &sinetstream.Side{
		ThreadNumber: 0, StartTime: 1648491955.007, StartTimeMillis: 1648491955007,
		EndTime: 1648491955.659, EndTimeMillis: 1648491955659, Time: 0.652, TimeMillis: 652,
		MsgCountTotal: 300, MsgCountRate: 460.12269938650303, MsgBytesTotal: 313200, MsgBytesRate: 480368.0981595092,
		MsgSizeMin: ptr[int64](1044), MsgSizeMax: ptr[int64](1044), MsgSizeAvg: 1044,
		ErrorCountTotal: 0, ErrorCountRate: 0,
	},
}

// threadLines are one round of a 2-thread Java perftool run (`perftool -c 3 -n 3 -a -t 2`, its README's TSV
// example, as JSON lines). The readers started before the writers and got fewer messages.
var threadLines = []string{
	`{"writer":{"thread_number":0,"start_time":1.649312268022E9,"start_time_ms":1649312268022,"end_time":1.649312268048E9,"end_time_ms":1649312268048,"time":0.026,"time_ms":26,"msg_count_total":3,"msg_count_rate":115.38461538461539,"msg_bytes_total":3132,"msg_bytes_rate":120461.53846153847,"msg_size_min":1044,"msg_size_max":1044,"msg_size_avg":1044.0,"error_count_total":0,"error_count_rate":0.0},"reader":{"thread_number":0,"start_time":1.649312267411E9,"start_time_ms":1649312267411,"end_time":1.649312268049E9,"end_time_ms":1649312268049,"time":0.638,"time_ms":638,"msg_count_total":1,"msg_count_rate":1.567398119122257,"msg_bytes_total":1044,"msg_bytes_rate":1636.3636363636363,"msg_size_min":1044,"msg_size_max":1044,"msg_size_avg":1044.0,"error_count_total":0,"error_count_rate":0.0},"name":"edge-pi-02"}`,
	`{"writer":{"thread_number":1,"start_time":1.649312268021E9,"start_time_ms":1649312268021,"end_time":1.649312268066E9,"end_time_ms":1649312268066,"time":0.045,"time_ms":45,"msg_count_total":3,"msg_count_rate":66.66666666666667,"msg_bytes_total":3132,"msg_bytes_rate":69600.0,"msg_size_min":1044,"msg_size_max":1044,"msg_size_avg":1044.0,"error_count_total":0,"error_count_rate":0.0},"reader":{"thread_number":1,"start_time":1.649312267403E9,"start_time_ms":1649312267403,"end_time":1.649312268066E9,"end_time_ms":1649312268066,"time":0.663,"time_ms":663,"msg_count_total":1,"msg_count_rate":1.5082956259426847,"msg_bytes_total":1044,"msg_bytes_rate":1574.6606334841629,"msg_size_min":1044,"msg_size_max":1044,"msg_size_avg":1044.0,"error_count_total":0,"error_count_rate":0.0},"name":"edge-pi-02"}`,
}

var threadResults = []sinetstream.Result{
	{
		Name: "edge-pi-02",
		Writer: &sinetstream.Side{
			ThreadNumber: 0, StartTime: 1649312268.022, StartTimeMillis: 1649312268022,
			EndTime: 1649312268.048, EndTimeMillis: 1649312268048, Time: 0.026, TimeMillis: 26,
			MsgCountTotal: 3, MsgCountRate: 115.38461538461539, MsgBytesTotal: 3132, MsgBytesRate: 120461.53846153847,
			MsgSizeMin: ptr[int64](1044), MsgSizeMax: ptr[int64](1044), MsgSizeAvg: 1044,
		},
		Reader: &sinetstream.Side{
			ThreadNumber: 0, StartTime: 1649312267.411, StartTimeMillis: 1649312267411,
			EndTime: 1649312268.049, EndTimeMillis: 1649312268049, Time: 0.638, TimeMillis: 638,
			MsgCountTotal: 1, MsgCountRate: 1.567398119122257, MsgBytesTotal: 1044, MsgBytesRate: 1636.3636363636363,
			MsgSizeMin: ptr[int64](1044), MsgSizeMax: ptr[int64](1044), MsgSizeAvg: 1044,
		},
	},
	{
		Name: "edge-pi-02",
		Writer: &sinetstream.Side{
			ThreadNumber: 1, StartTime: 1649312268.021, StartTimeMillis: 1649312268021,
			EndTime: 1649312268.066, EndTimeMillis: 1649312268066, Time: 0.045, TimeMillis: 45,
			MsgCountTotal: 3, MsgCountRate: 66.66666666666667, MsgBytesTotal: 3132, MsgBytesRate: 69600,
			MsgSizeMin: ptr[int64](1044), MsgSizeMax: ptr[int64](1044), MsgSizeAvg: 1044,
		},
		Reader: &sinetstream.Side{
			ThreadNumber: 1, StartTime: 1649312267.403, StartTimeMillis: 1649312267403,
			EndTime: 1649312268.066, EndTimeMillis: 1649312268066, Time: 0.663, TimeMillis: 663,
			MsgCountTotal: 1, MsgCountRate: 1.5082956259426847, MsgBytesTotal: 1044, MsgBytesRate: 1574.6606334841629,
			MsgSizeMin: ptr[int64](1044), MsgSizeMax: ptr[int64](1044), MsgSizeAvg: 1044,
		},
	},
}

// pythonLine is shaped like the Python perftool's output: float milliseconds, and a reader that received
// nothing, for which SINETStream's Python metrics print null sizes.
const pythonLine = `{"name": "edge-py", "writer": {"thread_number": 3, "start_time": 1616591251.9623938, "start_time_ms": 1616591251962.3938, "end_time": 1616591255.0322828, "end_time_ms": 1616591255032.2827, "time": 3.0698890686035156, "time_ms": 3069.8890686035156, "msg_count_total": 1000, "msg_count_rate": 325.7446694824375, "msg_bytes_total": 1044000, "msg_bytes_rate": 340077.43493966473, "msg_size_min": 1044, "msg_size_max": 1044, "msg_size_avg": 1044.0, "error_count_total": 2, "error_count_rate": 0.6514893389648749}, "reader": {"thread_number": 3, "start_time": 1616591251.962402, "start_time_ms": 1616591251962.402, "end_time": 1616591255.0317662, "end_time_ms": 1616591255031.766, "time": 3.069364070892334, "time_ms": 3069.364070892334, "msg_count_total": 0, "msg_count_rate": 0, "msg_bytes_total": 0, "msg_bytes_rate": 0, "msg_size_min": null, "msg_size_max": null, "msg_size_avg": 0, "error_count_total": 0, "error_count_rate": 0}}`

var pythonResult = sinetstream.Result{
	Name: "edge-py",
	Writer: &sinetstream.Side{
		ThreadNumber: 3, StartTime: 1616591251.9623938, StartTimeMillis: 1616591251962.3938,
		EndTime: 1616591255.0322828, EndTimeMillis: 1616591255032.2827, Time: 3.0698890686035156, TimeMillis: 3069.8890686035156,
		MsgCountTotal: 1000, MsgCountRate: 325.7446694824375, MsgBytesTotal: 1044000, MsgBytesRate: 340077.43493966473,
		MsgSizeMin: ptr[int64](1044), MsgSizeMax: ptr[int64](1044), MsgSizeAvg: 1044,
		ErrorCountTotal: 2, ErrorCountRate: 0.6514893389648749,
	},
	Reader: &sinetstream.Side{
		ThreadNumber: 3, StartTime: 1616591251.962402, StartTimeMillis: 1616591251962.402,
		EndTime: 1616591255.0317662, EndTimeMillis: 1616591255031.766, Time: 3.069364070892334, TimeMillis: 3069.364070892334,
	},
}

// micros is a tstamp used in the hand-built messages: 2022-03-28T18:25:55.660123Z.
const micros int64 = 1648491955660123

var microsTime = time.Date(2022, 3, 28, 18, 25, 55, 660123000, time.UTC)
