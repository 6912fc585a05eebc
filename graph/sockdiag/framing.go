package sockdiag

import "github.com/mdlayher/netlink"

// Netlink message framing (include/uapi/linux/netlink.h), for the code that
// reads and writes netlink datagrams in place rather than through
// netlink.Conn, which allocates every message: here, the dump replies; in
// package live, the proc connector. A datagram holds one or more messages,
// each a struct nlmsghdr and its payload, each starting at a multiple of 4
// bytes.

// HeaderLen is the size of a netlink message header, struct nlmsghdr
// (NLMSG_HDRLEN).
const HeaderLen = 16

// Align rounds a message length up to where the next message starts
// (NLMSG_ALIGN).
func Align(n int) int { return (n + 3) &^ 3 }

// AppendMessage appends a netlink message to b: the header h, its Length
// set to HeaderLen+len(data) and the rest as given, then data, padded to
// the alignment so that another message may follow.
func AppendMessage(b []byte, h netlink.Header, data []byte) []byte {
	n := HeaderLen + len(data)
	i := len(b)
	b = append(b, make([]byte, HeaderLen)...)
	ne.PutUint32(b[i:], uint32(n))
	ne.PutUint16(b[i+4:], uint16(h.Type))
	ne.PutUint16(b[i+6:], uint16(h.Flags))
	ne.PutUint32(b[i+8:], h.Sequence)
	ne.PutUint32(b[i+12:], h.PID)
	b = append(b, data...)
	return append(b, make([]byte, Align(n)-n)...)
}

// SplitMessage reads the netlink message at the start of b, a datagram or
// what is left of one. It returns the message, whose Data is a view of b,
// and the rest of b after the message and its padding. ok is false when b
// does not start with a whole message: fewer bytes than a header, or a
// header whose length is shorter than a header or longer than b.
func SplitMessage(b []byte) (m netlink.Message, rest []byte, ok bool) {
	if len(b) < HeaderLen {
		return netlink.Message{}, b, false
	}
	l := int(ne.Uint32(b))
	if l < HeaderLen || l > len(b) {
		return netlink.Message{}, b, false
	}
	m = netlink.Message{
		Header: netlink.Header{
			Length:   uint32(l),
			Type:     netlink.HeaderType(ne.Uint16(b[4:])),
			Flags:    netlink.HeaderFlags(ne.Uint16(b[6:])),
			Sequence: ne.Uint32(b[8:]),
			PID:      ne.Uint32(b[12:]),
		},
		Data: b[HeaderLen:l:l],
	}
	return m, b[min(Align(l), len(b)):], true
}
