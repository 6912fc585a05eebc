package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The manifests of deploy/kubernetes cannot be applied here (no cluster):
// TestKubernetesManifests decodes each strictly — an unknown or misspelt
// field is an error — into the subset of the Kubernetes API types they
// use, checks what docs/hub.md promises of them, and runs the commands'
// arguments through fdscope's own flag parsing.

type k8sMeta struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type k8sHead struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
}

type k8sPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
	Port          int    `yaml:"port"`
	TargetPort    string `yaml:"targetPort"`
	Protocol      string `yaml:"protocol"`
}

type k8sContainer struct {
	Name            string    `yaml:"name"`
	Image           string    `yaml:"image"`
	Args            []string  `yaml:"args"`
	Ports           []k8sPort `yaml:"ports"`
	SecurityContext struct {
		RunAsUser                *int  `yaml:"runAsUser"`
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	ReadinessProbe *struct {
		HTTPGet struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"`
		} `yaml:"httpGet"`
		PeriodSeconds    int `yaml:"periodSeconds"`
		FailureThreshold int `yaml:"failureThreshold"`
	} `yaml:"readinessProbe"`
}

type k8sPodTemplate struct {
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		HostPID                      bool   `yaml:"hostPID"`
		HostNetwork                  bool   `yaml:"hostNetwork"`
		DNSPolicy                    string `yaml:"dnsPolicy"`
		AutomountServiceAccountToken *bool  `yaml:"automountServiceAccountToken"`
		SecurityContext              struct {
			RunAsNonRoot   *bool `yaml:"runAsNonRoot"`
			RunAsUser      *int  `yaml:"runAsUser"`
			RunAsGroup     *int  `yaml:"runAsGroup"`
			FSGroup        *int  `yaml:"fsGroup"`
			SeccompProfile struct {
				Type string `yaml:"type"`
			} `yaml:"seccompProfile"`
		} `yaml:"securityContext"`
		Tolerations []struct {
			Operator string `yaml:"operator"`
		} `yaml:"tolerations"`
		Containers []k8sContainer `yaml:"containers"`
		Volumes    []struct {
			Name   string `yaml:"name"`
			Secret struct {
				SecretName  string `yaml:"secretName"`
				DefaultMode int    `yaml:"defaultMode"`
			} `yaml:"secret"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

// k8sWorkload is a DaemonSet or a Deployment.
type k8sWorkload struct {
	k8sHead  `yaml:",inline"`
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template k8sPodTemplate `yaml:"template"`
	} `yaml:"spec"`
}

type k8sService struct {
	k8sHead  `yaml:",inline"`
	Metadata k8sMeta `yaml:"metadata"`
	Spec     struct {
		ClusterIP                string            `yaml:"clusterIP"`
		PublishNotReadyAddresses bool              `yaml:"publishNotReadyAddresses"`
		Selector                 map[string]string `yaml:"selector"`
		Ports                    []k8sPort         `yaml:"ports"`
	} `yaml:"spec"`
}

type k8sNamespace struct {
	k8sHead  `yaml:",inline"`
	Metadata k8sMeta `yaml:"metadata"`
}

type k8sKustomization struct {
	k8sHead   `yaml:",inline"`
	Resources []string `yaml:"resources"`
}

func decodeStrict(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var more any
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: one document per file, please (%v)", path, err)
	}
}

// flagValue returns the value of --name=VALUE in args.
func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

func TestKubernetesManifests(t *testing.T) {
	dir := filepath.Join("deploy", "kubernetes")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	var (
		workloads = map[string]*k8sWorkload{}
		services  = map[string]*k8sService{}
		kust      k8sKustomization
	)
	for _, f := range files {
		var head k8sHead
		b, _ := os.ReadFile(f)
		if err := yaml.Unmarshal(b, &head); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch want := head.APIVersion + " " + head.Kind; want {
		case "apps/v1 DaemonSet", "apps/v1 Deployment":
			var w k8sWorkload
			decodeStrict(t, f, &w)
			workloads[w.Kind] = &w
		case "v1 Service":
			var s k8sService
			decodeStrict(t, f, &s)
			services[s.Metadata.Name] = &s
		case "v1 Namespace":
			var n k8sNamespace
			decodeStrict(t, f, &n)
		case "kustomize.config.k8s.io/v1beta1 Kustomization":
			decodeStrict(t, f, &kust)
		default:
			t.Errorf("%s: unexpected %q", f, want)
		}
	}
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(kust.Resources, base) {
			t.Errorf("kustomization.yaml does not list %s", base)
		}
	}

	agents, hub := workloads["DaemonSet"], workloads["Deployment"]
	headless, hubSvc := services["fdscope-agents"], services["fdscope-hub"]
	if agents == nil || hub == nil || headless == nil || hubSvc == nil {
		t.Fatalf("want the agents' DaemonSet, the hub's Deployment and their two Services; have %v %v", workloads, services)
	}
	for _, w := range []*k8sWorkload{agents, hub} {
		for k, v := range w.Spec.Selector.MatchLabels {
			if w.Spec.Template.Metadata.Labels[k] != v {
				t.Errorf("%s: the selector does not select its own pods", w.Metadata.Name)
			}
		}
		if len(w.Spec.Template.Spec.Containers) != 1 {
			t.Fatalf("%s: want one container", w.Metadata.Name)
		}
		c := w.Spec.Template.Spec.Containers[0]
		if !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation == nil ||
			*c.SecurityContext.AllowPrivilegeEscalation || !slices.Equal(c.SecurityContext.Capabilities.Drop, []string{"ALL"}) {
			t.Errorf("%s: want a read-only root, no privilege escalation, every capability dropped", w.Metadata.Name)
		}
		// Readiness is /healthz (which needs no token) on the container's own port.
		if pr := c.ReadinessProbe; pr == nil || pr.HTTPGet.Path != "/healthz" || len(c.Ports) == 0 || pr.HTTPGet.Port != c.Ports[0].Name {
			t.Errorf("%s: want a readiness probe of /healthz on its port, got %+v", w.Metadata.Name, pr)
		}
		// The arguments are fdscope's: parse them as it does (--help stops before it runs).
		run := map[string]func(context.Context, []string, io.Writer, io.Writer) error{"serve": runServe, "hub": runHub}[c.Args[0]]
		if run == nil {
			t.Fatalf("%s: runs %q", w.Metadata.Name, c.Args[0])
		}
		if err := run(context.Background(), append(slices.Clone(c.Args[1:]), "--help"), io.Discard, io.Discard); err != nil {
			t.Errorf("%s: fdscope %s refuses its arguments: %v", w.Metadata.Name, c.Args[0], err)
		}
		// Every token file is in a Secret's volume.
		for _, fl := range []string{"token-file", "agent-token-file"} {
			path := flagValue(c.Args, fl)
			if path == "" {
				continue
			}
			mounted := false
			for _, m := range c.VolumeMounts {
				for _, v := range w.Spec.Template.Spec.Volumes {
					if v.Name == m.Name && v.Secret.SecretName != "" && filepath.Dir(path) == m.MountPath {
						mounted = true
					}
				}
			}
			if !mounted {
				t.Errorf("%s: --%s %s is not in a Secret's volume", w.Metadata.Name, fl, path)
			}
		}
	}

	a := agents.Spec.Template.Spec
	ac := a.Containers[0]
	if !a.HostPID {
		t.Error("the agents need the host's pid namespace")
	}
	if caps := ac.SecurityContext.Capabilities.Add; !slices.Contains(caps, "SYS_PTRACE") || !slices.Contains(caps, "DAC_READ_SEARCH") {
		t.Errorf("the agents' capabilities %v lack those README.md documents", caps)
	}
	if flagValue(ac.Args, "token-file") == "" {
		t.Error("the agents listen beyond loopback: they need --token-file")
	}
	if headless.Spec.ClusterIP != "None" {
		t.Error("the agents' Service must be headless (clusterIP: None) for the hub to see every pod")
	}
	for k, v := range headless.Spec.Selector {
		if agents.Spec.Template.Metadata.Labels[k] != v {
			t.Error("the headless Service does not select the agents")
		}
	}
	listen := flagValue(ac.Args, "listen")
	hc := hub.Spec.Template.Spec.Containers[0]
	if port := flagValue(hc.Args, "agent-port"); !strings.HasSuffix(listen, ":"+port) || len(headless.Spec.Ports) != 1 ||
		!strings.HasSuffix(listen, ":"+strconv.Itoa(headless.Spec.Ports[0].Port)) {
		t.Errorf("the agents listen on %s, the hub dials port %s, the Service says %v", listen, port, headless.Spec.Ports)
	}
	if name := flagValue(hc.Args, "agents-dns"); !strings.HasPrefix(name, headless.Metadata.Name+"."+headless.Metadata.Namespace+".") {
		t.Errorf("the hub resolves %q, not the headless Service", name)
	}
	for k, v := range hubSvc.Spec.Selector {
		if hub.Spec.Template.Metadata.Labels[k] != v {
			t.Error("the hub's Service does not select the hub")
		}
	}
}
