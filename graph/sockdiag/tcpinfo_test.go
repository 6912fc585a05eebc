//go:build linux

package sockdiag

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseTCPInfo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		b       []byte
		want    TCPInfo
		wantErr bool
	}{
		{name: "empty", b: nil, wantErr: true},
		{name: "one byte short of rtt", b: make([]byte, MinTCPInfoLen-1), wantErr: true},
		{name: "pre-4.2: rtt only", b: tcpInfo(104, 77, 5, 6), want: TCPInfo{RTTMicros: 77}},
		{name: "one byte short of the counters", b: tcpInfo(tcpInfoBytesReceived+7, 1, 0, 0), want: TCPInfo{RTTMicros: 1}},
		{name: "just the counters", b: tcpInfo(tcpInfoBytesReceived+8, 2, 1001, 1000),
			want: TCPInfo{RTTMicros: 2, BytesAcked: 1001, BytesReceived: 1000, HasBytes: true}},
		{name: "x/sys size", b: tcpInfo(unix.SizeofTCPInfo, 321, 1<<40, 12345),
			want: TCPInfo{RTTMicros: 321, BytesAcked: 1 << 40, BytesReceived: 12345, HasBytes: true}},
		{name: "a newer kernel's longer struct", b: tcpInfo(unix.SizeofTCPInfo+64, 3, 4, 5),
			want: TCPInfo{RTTMicros: 3, BytesAcked: 4, BytesReceived: 5, HasBytes: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTCPInfo(tc.b)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseTCPInfo: err %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseTCPInfo = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseTCPInfo(f *testing.F) {
	f.Add(tcpInfo(unix.SizeofTCPInfo, 1, 2, 3))
	f.Add(tcpInfo(104, 1, 0, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ti, err := ParseTCPInfo(b)
		switch {
		case err != nil && len(b) >= MinTCPInfoLen:
			t.Fatalf("%d bytes refused: %v", len(b), err)
		case err == nil && len(b) < MinTCPInfoLen:
			t.Fatalf("%d bytes taken", len(b))
		case ti.HasBytes != (len(b) >= tcpInfoBytesReceived+8):
			t.Fatalf("%d bytes: HasBytes %v", len(b), ti.HasBytes)
		case !ti.HasBytes && (ti.BytesAcked != 0 || ti.BytesReceived != 0):
			t.Fatalf("counters %d, %d without HasBytes", ti.BytesAcked, ti.BytesReceived)
		}
	})
}
