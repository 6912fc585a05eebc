package sockdiag

import "fmt"

// TCPInfo is the part of struct tcp_info (include/uapi/linux/tcp.h) that
// fdscope reads: what a TCP connection has carried so far, for the rates
// of the activity sampler.
type TCPInfo struct {
	RTTMicros uint32 // smoothed round-trip time, µs
	// BytesAcked is the sequence space the peer acknowledged: the bytes
	// sent plus 1 for the SYN. BytesReceived counts the bytes received.
	// Both are 0 when HasBytes is false.
	BytesAcked, BytesReceived uint64
	// HasBytes says the kernel's tcp_info is long enough to carry the byte
	// counters (Linux 4.2 and later).
	HasBytes bool
}

// MinTCPInfoLen is the shortest INET_DIAG_INFO payload ParseTCPInfo takes:
// up to and including tcpi_rtt.
const MinTCPInfoLen = tcpInfoRTT + 4

// ParseTCPInfo reads a struct tcp_info, the payload of an INET_DIAG_INFO
// attribute of a tcp dump (InetAttrInfo), in place. A payload shorter than
// MinTCPInfoLen is an error; a longer one than this package knows is read
// as far as it knows. It allocates nothing.
func ParseTCPInfo(b []byte) (TCPInfo, error) {
	if len(b) < MinTCPInfoLen {
		return TCPInfo{}, fmt.Errorf("tcp_info: %d bytes, want at least %d", len(b), MinTCPInfoLen)
	}
	ti := TCPInfo{RTTMicros: ne.Uint32(b[tcpInfoRTT:])}
	if len(b) >= tcpInfoBytesReceived+8 { // Linux >= 4.2
		ti.HasBytes = true
		ti.BytesAcked = ne.Uint64(b[tcpInfoBytesAcked:])
		ti.BytesReceived = ne.Uint64(b[tcpInfoBytesReceived:])
	}
	return ti, nil
}
