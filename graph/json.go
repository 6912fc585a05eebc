package graph

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"unicode/utf8"
)

// WriteJSON writes s in its JSON form, the graph contract of docs/graph.md.
// The result is byte for byte what encoding/json's Encoder writes for each
// node and edge (json.Marshal(s) with a newline after every item), but
// nodes and edges are appended by hand rather than through reflection, in
// chunks encoded in parallel, so that a busy host's hundred thousand nodes
// are encoded on every core and never held in memory as one document.
func (s *Snapshot) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"nodes":[`)
	if err := writeChunked(bw, s.Nodes, appendNode); err != nil {
		return fmt.Errorf("nodes: %w", err)
	}
	bw.WriteString(`],"edges":[`)
	if err := writeChunked(bw, s.Edges, appendEdge); err != nil {
		return fmt.Errorf("edges: %w", err)
	}
	bw.WriteString(`],"stats":`)
	if err := json.NewEncoder(bw).Encode(s.Stats); err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// writeChunked writes the JSON forms of items, each followed by a newline
// as json.Encoder writes it, separated by commas: one round of chunks is
// appended in parallel, then written in order.
func writeChunked[T any](w io.Writer, items []T, appendItem func([]byte, T) []byte) error {
	const chunk = 2048
	workers := runtime.GOMAXPROCS(0)
	bufs := make([][]byte, workers)
	for round := 0; round < len(items); round += chunk * workers {
		var wg sync.WaitGroup
		for k := range workers {
			lo := round + k*chunk
			if lo >= len(items) {
				break
			}
			hi := min(lo+chunk, len(items))
			wg.Go(func() {
				b := bufs[k][:0]
				for i := lo; i < hi; i++ {
					if i > 0 {
						b = append(b, ',')
					}
					b = appendItem(b, items[i])
					b = append(b, '\n')
				}
				bufs[k] = b
			})
		}
		wg.Wait()
		for k := range workers {
			if round+k*chunk < len(items) {
				if _, err := w.Write(bufs[k]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// appendEdge appends e as encoding/json writes an Edge.
func appendEdge(b []byte, e Edge) []byte {
	b = append(b, `{"from":`...)
	b = appendString(b, e.From)
	b = append(b, `,"to":`...)
	b = appendString(b, e.To)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(e.Kind))
	return append(b, '}')
}

// appendNode appends n as encoding/json writes a *Node: its fields, then
// those of each embedded detail struct that is set, in declaration order,
// with the omitempty fields left out when zero. TestAppendNodeMatches
// checks it against encoding/json with every field set and unset.
func appendNode(b []byte, n *Node) []byte {
	if n == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"id":`...)
	b = appendString(b, n.ID)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(n.Kind))
	if n.PID != 0 {
		b = appendIntField(b, `,"pid":`, int64(n.PID))
	}
	if n.NetNS != 0 {
		b = appendUintField(b, `,"netns":`, n.NetNS)
	}
	if n.Error != "" {
		b = appendStringField(b, `,"error":`, n.Error)
	}
	if p := n.Process; p != nil {
		b = appendIntField(b, `,"ppid":`, int64(p.PPID))
		b = appendStringField(b, `,"comm":`, p.Comm)
		b = appendStringField(b, `,"cmdline":`, p.Cmdline)
		b = appendIntField(b, `,"uid":`, int64(p.UID))
		b = appendStringField(b, `,"user":`, p.User)
		b = appendUintField(b, `,"start_time":`, p.StartTime)
		if p.MntNS != 0 {
			b = appendUintField(b, `,"mntns":`, p.MntNS)
		}
		if p.PidNS != 0 {
			b = appendUintField(b, `,"pidns":`, p.PidNS)
		}
		if p.Cgroup != "" {
			b = appendStringField(b, `,"cgroup":`, p.Cgroup)
		}
		if p.Threads != 0 {
			b = appendIntField(b, `,"threads":`, int64(p.Threads))
		}
		b = appendIntField(b, `,"fd_count":`, int64(p.FDCount))
		if p.Host != "" {
			b = appendStringField(b, `,"host":`, p.Host)
		}
		if p.TGID != 0 {
			b = appendIntField(b, `,"tgid":`, int64(p.TGID))
		}
	}
	if f := n.FD; f != nil {
		b = appendIntField(b, `,"fd":`, int64(f.Num))
		b = append(b, `,"cloexec":`...)
		b = strconv.AppendBool(b, f.CloExec)
	}
	if o := n.OFD; o != nil {
		b = appendStringField(b, `,"mode":`, o.Mode)
		b = append(b, `,"flags":`...)
		b = appendStrings(b, o.Flags)
		b = appendIntField(b, `,"pos":`, o.Pos)
		if o.MntID != 0 {
			b = appendIntField(b, `,"mnt_id":`, int64(o.MntID))
		}
		b = appendIntField(b, `,"sharers":`, int64(o.Sharers))
	}
	if o := n.Object; o != nil {
		b = appendObject(b, o)
	}
	return append(b, '}')
}

// appendObject appends the fields of an Object (and its Socket) that
// appendNode writes for an object node.
func appendObject(b []byte, o *Object) []byte {
	b = appendUintField(b, `,"inode":`, o.Inode)
	if o.Dev != "" {
		b = appendStringField(b, `,"dev":`, o.Dev)
	}
	if o.RDev != "" {
		b = appendStringField(b, `,"rdev":`, o.RDev)
	}
	b = appendStringField(b, `,"name":`, o.Name)
	if o.Path != "" {
		b = appendStringField(b, `,"path":`, o.Path)
	}
	b = append(b, `,"deleted":`...)
	b = strconv.AppendBool(b, o.Deleted)
	if o.AnonType != "" {
		b = appendStringField(b, `,"anon_type":`, o.AnonType)
	}
	if o.Detail != "" {
		b = appendStringField(b, `,"detail":`, o.Detail)
	}
	s := o.Socket
	if s == nil {
		return b
	}
	b = appendStringField(b, `,"family":`, string(s.Family))
	if s.Type != "" {
		b = appendStringField(b, `,"type":`, s.Type)
	}
	if s.Protocol != "" {
		b = appendStringField(b, `,"protocol":`, s.Protocol)
	}
	if s.State != "" {
		b = appendStringField(b, `,"state":`, s.State)
	}
	b = appendStringField(b, `,"local":`, s.Local)
	b = appendStringField(b, `,"remote":`, s.Remote)
	b = appendUintField(b, `,"rx_queue":`, uint64(s.RxQueue))
	b = appendUintField(b, `,"tx_queue":`, uint64(s.TxQueue))
	if s.InFlight != 0 {
		b = appendIntField(b, `,"in_flight":`, int64(s.InFlight))
	}
	return b
}

func appendIntField(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(b, key...), v, 10)
}

func appendUintField(b []byte, key string, v uint64) []byte {
	return strconv.AppendUint(append(b, key...), v, 10)
}

func appendStringField(b []byte, key, v string) []byte {
	return appendString(append(b, key...), v)
}

// appendStrings appends a string list; nil is null, as encoding/json has it.
func appendStrings(b []byte, l []string) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// htmlSafe marks the ASCII bytes encoding/json writes as they are when it
// escapes HTML (its default): every printable byte but `"`, `\`, `<`, `>`
// and `&`, and DEL.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string exactly as encoding/json does:
// control characters, quotes, backslashes and <, >, & escaped, invalid
// UTF-8 replaced with \ufffd, and U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
