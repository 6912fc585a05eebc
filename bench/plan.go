//go:build linux

package bench

import (
	"fmt"
	"math"
	"path/filepath"
)

// MaxFDsPerProcess caps the fds of any one workload process: the hard
// RLIMIT_NOFILE is 20000 on the machines this runs on and cannot be raised.
const MaxFDsPerProcess = 19000

// Plan is the workload, derived from one scale factor so that the benchmark,
// the namespace's init and every worker compute the same one. At scale 1 it
// has 500 workers and about 65k fds, 18k unix sockets (5k connections across
// processes) and 2k loopback TCP connections.
type Plan struct {
	Scale   float64 `json:"scale"`
	Workers int     `json:"workers"` // worker processes; the namespace's init comes on top
	// Hubs are the first workers: each owns a named and an abstract unix
	// listener and a TCP listener on 127.0.0.1, and accepts the connections
	// the other workers make to them.
	Hubs int `json:"hubs"`
	// Workers are started in groups that inherit the same pipes from their
	// parent, so each pipe end is one open file description shared by every
	// process of the group, as after fork.
	GroupSize     int `json:"group_size"`
	PipesPerGroup int `json:"pipes_per_group"`
	LocalPairs    int `json:"local_pairs"` // unix socket pairs inside each worker
	Dups          int `json:"dups"`        // dup'd fds per worker
	Files         int `json:"files"`       // regular files each worker opens once, besides its data file opened twice and dup'd
	SharedFiles   int `json:"shared_files"`

	NamedConns    int `json:"named_conns"`    // unix connections to the hubs' named listeners
	AbstractConns int `json:"abstract_conns"` // unix connections to the hubs' abstract listeners
	SCMPairs      int `json:"scm_pairs"`      // socket pairs whose ends reach two workers by SCM_RIGHTS
	TCPConns      int `json:"tcp_conns"`      // loopback TCP connections from a worker to a hub

	EpollEvery    int `json:"epoll_every"`     // every Nth worker has two eventfds and an epoll watching them
	InFlightEvery int `json:"in_flight_every"` // every Nth worker has an fd in flight on a socket pair

	// Threaded keeps the workers as the Go processes that built the fds,
	// with their several threads each, instead of single-threaded holders.
	// lsof lists every fd once per thread, so this costs it several times
	// more.
	Threaded bool `json:"threaded"`
}

// MaxScale bounds the workload: at scale 20 it has 10,000 processes.
const MaxScale = 20

// NewPlan returns the workload at the given scale (1 is the full workload).
func NewPlan(scale float64) (Plan, error) {
	if !(scale > 0 && scale <= MaxScale) {
		return Plan{}, fmt.Errorf("plan: scale %v: want more than 0, at most %d", scale, MaxScale)
	}
	n := func(full float64) int { return int(math.Round(full * scale)) }
	p := Plan{
		Scale:         scale,
		Workers:       max(2, n(500)),
		Hubs:          max(1, n(2)),
		GroupSize:     10,
		PipesPerGroup: 25,
		LocalPairs:    7,
		Dups:          20,
		Files:         9,
		SharedFiles:   64,
		NamedConns:    n(2000),
		AbstractConns: n(1500),
		SCMPairs:      n(1500),
		TCPConns:      n(2000),
		EpollEvery:    4,
		InFlightEvery: 10,
	}
	if p.Hubs >= p.Workers {
		p.Hubs = p.Workers - 1
	}
	if e := p.Expect(); e.MaxFDsPerProcess > MaxFDsPerProcess {
		return Plan{}, fmt.Errorf("plan: scale %v puts %d fds in one process, above the %d the fd limit allows",
			scale, e.MaxFDsPerProcess, MaxFDsPerProcess)
	}
	return p, nil
}

// Expected is what a Plan builds, counted from the plan alone. FDs leave out
// the few fds the Go runtime opens in each process; the workers report what
// they actually hold once built.
type Expected struct {
	Processes        int `json:"processes"`
	FDs              int `json:"fds"`
	MaxFDsPerProcess int `json:"max_fds_per_process"`
	UnixSockets      int `json:"unix_sockets"`
	CrossUnixConns   int `json:"cross_unix_conns"`
	TCPConns         int `json:"tcp_conns"`
	TCPSockets       int `json:"tcp_sockets"` // both ends of every connection, and the listeners
	Pipes            int `json:"pipes"`
	SCMRightsFDs     int `json:"scm_rights_fds"` // fds the workers received by SCM_RIGHTS
}

// Expect counts what the plan builds.
func (p Plan) Expect() Expected {
	e := Expected{
		Processes:      p.Workers + 1,
		FDs:            rootFDs(p),
		CrossUnixConns: p.NamedConns + p.AbstractConns + p.SCMPairs,
		TCPConns:       p.TCPConns,
		TCPSockets:     2*p.TCPConns + p.Hubs,
		Pipes:          p.groups() * p.PipesPerGroup,
		SCMRightsFDs:   2 * p.SCMPairs,
	}
	e.MaxFDsPerProcess = e.FDs
	scm := p.scmCounts()
	for i := range p.Workers {
		n := p.workerFDs(i, scm[i])
		e.FDs += n
		e.MaxFDsPerProcess = max(e.MaxFDsPerProcess, n)
	}
	inFlight := 0
	for i := range p.Workers {
		if p.inFlight(i) {
			inFlight++
		}
	}
	e.UnixSockets = 2*p.Workers + // control sockets: the init holds one end, the worker the other
		2*p.LocalPairs*p.Workers + 2*e.CrossUnixConns + 2*p.Hubs + 2*inFlight
	return e
}

// rootFDs is what the namespace's init holds: stdio and one control socket per worker.
func rootFDs(p Plan) int { return 3 + p.Workers }

// workerFDs is what worker i holds, scm of them received by SCM_RIGHTS.
func (p Plan) workerFDs(i, scm int) int {
	n := 3 + 1 + // stdio, control socket
		2*p.PipesPerGroup + 2*p.LocalPairs + 3 + p.Files + p.Dups + scm
	for _, d := range p.dials(i) {
		n += d.Count
	}
	if l := p.listen(i); l != nil {
		n += 3 + l.AcceptNamed + l.AcceptAbstract + l.AcceptTCP
	}
	if p.epoll(i) {
		n += 3
	}
	if p.inFlight(i) {
		n += 2
	}
	return n
}

func (p Plan) groups() int                 { return (p.Workers + p.GroupSize - 1) / p.GroupSize }
func (p Plan) group(i int) int             { return i / p.GroupSize }
func (p Plan) epoll(i int) bool            { return i%p.EpollEvery == 0 }
func (p Plan) inFlight(i int) bool         { return i%p.InFlightEvery == 0 }
func (p Plan) isHub(i int) bool            { return i < p.Hubs }
func (p Plan) tcpPort(hub int) int         { return 40000 + hub }
func (p Plan) abstractName(hub int) string { return fmt.Sprintf("@fdscope-bench-hub-%d", hub) }

// Dial kinds.
const (
	dialNamed    = "named"
	dialAbstract = "abstract"
	dialTCP      = "tcp"
)

// dial is a batch of connections from a worker to one hub's listener.
type dial struct {
	Kind  string `json:"kind"`
	Hub   int    `json:"hub"`
	Count int    `json:"count"`
}

// listenSpec is what a hub listens on and how many connections it accepts.
type listenSpec struct {
	Named          string `json:"named"` // file name in the workload's directory
	Abstract       string `json:"abstract"`
	TCPPort        int    `json:"tcp_port"`
	AcceptNamed    int    `json:"accept_named"`
	AcceptAbstract int    `json:"accept_abstract"`
	AcceptTCP      int    `json:"accept_tcp"`
}

// Connection k of each kind goes from client Hubs + k%clients to hub k%Hubs.
func (p Plan) dials(i int) []dial {
	if p.isHub(i) {
		return nil
	}
	clients, j := p.Workers-p.Hubs, i-p.Hubs
	var out []dial
	for _, kc := range []struct {
		kind  string
		total int
	}{{dialNamed, p.NamedConns}, {dialAbstract, p.AbstractConns}, {dialTCP, p.TCPConns}} {
		perHub := make([]int, p.Hubs)
		for k := j; k < kc.total; k += clients {
			perHub[k%p.Hubs]++
		}
		for h, c := range perHub {
			if c > 0 {
				out = append(out, dial{Kind: kc.kind, Hub: h, Count: c})
			}
		}
	}
	return out
}

func (p Plan) listen(i int) *listenSpec {
	if !p.isHub(i) {
		return nil
	}
	share := func(total int) int {
		n := total / p.Hubs
		if i < total%p.Hubs {
			n++
		}
		return n
	}
	return &listenSpec{
		Named:          fmt.Sprintf("hub-%d.sock", i),
		Abstract:       p.abstractName(i),
		TCPPort:        p.tcpPort(i),
		AcceptNamed:    share(p.NamedConns),
		AcceptAbstract: share(p.AbstractConns),
		AcceptTCP:      share(p.TCPConns),
	}
}

// scmPair returns the two workers that receive the ends of SCM pair k.
func (p Plan) scmPair(k int) (a, b int) {
	a = k % p.Workers
	b = (a + 1 + (k/p.Workers)%(p.Workers-1)) % p.Workers
	return a, b
}

// scmCounts is how many fds each worker receives by SCM_RIGHTS.
func (p Plan) scmCounts() []int {
	c := make([]int, p.Workers)
	for k := range p.SCMPairs {
		a, b := p.scmPair(k)
		c[a]++
		c[b]++
	}
	return c
}

// workerSpec is what the init tells worker i to build.
type workerSpec struct {
	ID         int         `json:"id"`
	Holder     string      `json:"holder"` // what the worker execs once built
	Dir        string      `json:"dir"`    // the workload's directory: named sockets and files
	Pipes      int         `json:"pipes"`  // pipes inherited as fds 4, 5, ... (read end, write end)
	LocalPairs int         `json:"local_pairs"`
	Dups       int         `json:"dups"`
	DataFile   string      `json:"data_file"`
	Files      []string    `json:"files"`
	Epoll      bool        `json:"epoll"`
	InFlight   bool        `json:"in_flight"`
	Listen     *listenSpec `json:"listen,omitempty"`
	Dials      []dial      `json:"dials"`
	// Hub addresses the dials refer to.
	NamedPaths []string `json:"named_paths"`
	Abstracts  []string `json:"abstracts"`
	TCPPorts   []int    `json:"tcp_ports"`
}

func (p Plan) spec(i int, dir string) workerSpec {
	s := workerSpec{
		ID:         i,
		Dir:        dir,
		Pipes:      p.PipesPerGroup,
		LocalPairs: p.LocalPairs,
		Dups:       p.Dups,
		DataFile:   filepath.Join(dir, p.dataFile(p.group(i))),
		Epoll:      p.epoll(i),
		InFlight:   p.inFlight(i),
		Listen:     p.listen(i),
		Dials:      p.dials(i),
	}
	for j := range p.Files {
		s.Files = append(s.Files, filepath.Join(dir, p.sharedFile((i*p.Files+j)%p.SharedFiles)))
	}
	for h := range p.Hubs {
		s.NamedPaths = append(s.NamedPaths, filepath.Join(dir, p.listen(h).Named))
		s.Abstracts = append(s.Abstracts, p.abstractName(h))
		s.TCPPorts = append(s.TCPPorts, p.tcpPort(h))
	}
	return s
}

func (p Plan) dataFile(group int) string { return fmt.Sprintf("data-%d.bin", group) }
func (p Plan) sharedFile(k int) string   { return fmt.Sprintf("file-%03d.txt", k) }
