package mqttload

import (
	"encoding/binary"
	"errors"
)

// HeaderSize is the length of the binary header every benchmark message starts with; --size may not be smaller.
//
//	offset  size  field
//	0       2     magic "bp"
//	2       1     header version (1)
//	3       1     reserved (0)
//	4       8     run tag: the first 8 bytes of the run id, so messages of other runs are recognised
//	12      4     publisher index
//	16      8     sequence number of the message within its publisher, from 0
//	24      8     intended send time, Unix nanoseconds (the open-loop schedule)
//	32      8     actual send time, Unix nanoseconds (when Publish was called)
//	40      …     zero padding up to --size
//
// Integers are big-endian. The times come from the generator's clock (see clock), which both publishers and
// subscribers of one process share.
const HeaderSize = 40

const headerVersion = 1

var headerMagic = [2]byte{'b', 'p'}

// errNotOurs is returned by decodeHeader for a payload that is not a benchpipe message.
var errNotOurs = errors.New("not a benchpipe benchmark message")

// header is the decoded front of a benchmark message.
type header struct {
	runTag   uint64
	pub      uint32
	seq      uint64
	intended int64 // Unix ns
	sent     int64 // Unix ns
}

// encode writes h into the first HeaderSize bytes of b (len(b) ≥ HeaderSize); the rest of b is left alone.
func (h *header) encode(b []byte) {
	_ = b[HeaderSize-1]
	b[0], b[1], b[2], b[3] = headerMagic[0], headerMagic[1], headerVersion, 0
	binary.BigEndian.PutUint64(b[4:], h.runTag)
	binary.BigEndian.PutUint32(b[12:], h.pub)
	binary.BigEndian.PutUint64(b[16:], h.seq)
	binary.BigEndian.PutUint64(b[24:], uint64(h.intended))
	binary.BigEndian.PutUint64(b[32:], uint64(h.sent))
}

// decodeHeader reads the header at the front of b.
func decodeHeader(b []byte) (header, error) {
	if len(b) < HeaderSize || b[0] != headerMagic[0] || b[1] != headerMagic[1] || b[2] != headerVersion {
		return header{}, errNotOurs
	}
	return header{
		runTag:   binary.BigEndian.Uint64(b[4:]),
		pub:      binary.BigEndian.Uint32(b[12:]),
		seq:      binary.BigEndian.Uint64(b[16:]),
		intended: int64(binary.BigEndian.Uint64(b[24:])),
		sent:     int64(binary.BigEndian.Uint64(b[32:])),
	}, nil
}
