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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sjson "sigs.k8s.io/json"
	k8syaml "sigs.k8s.io/yaml"
)

// The manifests of deploy/kubernetes cannot be applied here (no cluster):
// TestKubernetesManifests decodes each strictly — an unknown or misspelt
// field is an error — into the Kubernetes API types (k8s.io/api, as
// kubectl's strict validation would), checks what docs/hub.md promises of
// them, and runs the commands' arguments through fdscope's own flag
// parsing.

// k8sHead is what says which type a manifest is.
type k8sHead struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
}

// k8sKustomization is kustomize's file (not a Kubernetes API type): the
// fields it uses.
type k8sKustomization struct {
	k8sHead   `yaml:",inline"`
	Resources []string `yaml:"resources"`
}

// workload is what the test reads of a DaemonSet or a Deployment.
type workload struct {
	kind     string
	meta     metav1.ObjectMeta
	selector *metav1.LabelSelector
	template corev1.PodTemplateSpec
}

// decodeStrict decodes the Kubernetes object in path into into as the API
// server's strict field validation does: field names are case-sensitive,
// and an unknown or repeated field is an error.
func decodeStrict(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	js, err := k8syaml.YAMLToJSONStrict(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	strict, err := k8sjson.UnmarshalStrict(js, into)
	if err == nil {
		err = errors.Join(strict...)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// decodeKustomization decodes kustomization.yaml strictly (one document,
// known fields only).
func decodeKustomization(t *testing.T, path string, into *k8sKustomization) {
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
		workloads = map[string]*workload{}
		services  = map[string]*corev1.Service{}
		kust      k8sKustomization
	)
	for _, f := range files {
		var head k8sHead
		b, _ := os.ReadFile(f)
		if err := yaml.Unmarshal(b, &head); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch want := head.APIVersion + " " + head.Kind; want {
		case "apps/v1 DaemonSet":
			var d appsv1.DaemonSet
			decodeStrict(t, f, &d)
			workloads[d.Kind] = &workload{kind: d.Kind, meta: d.ObjectMeta, selector: d.Spec.Selector, template: d.Spec.Template}
		case "apps/v1 Deployment":
			var d appsv1.Deployment
			decodeStrict(t, f, &d)
			workloads[d.Kind] = &workload{kind: d.Kind, meta: d.ObjectMeta, selector: d.Spec.Selector, template: d.Spec.Template}
		case "v1 Service":
			var s corev1.Service
			decodeStrict(t, f, &s)
			services[s.Name] = &s
		case "v1 Namespace":
			var n corev1.Namespace
			decodeStrict(t, f, &n)
		case "kustomize.config.k8s.io/v1beta1 Kustomization":
			decodeKustomization(t, f, &kust)
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
	for _, w := range []*workload{agents, hub} {
		if w.selector == nil || len(w.selector.MatchLabels) == 0 {
			t.Fatalf("%s: no selector", w.meta.Name)
		}
		for k, v := range w.selector.MatchLabels {
			if w.template.Labels[k] != v {
				t.Errorf("%s: the selector does not select its own pods", w.meta.Name)
			}
		}
		if len(w.template.Spec.Containers) != 1 {
			t.Fatalf("%s: want one container", w.meta.Name)
		}
		c := w.template.Spec.Containers[0]
		if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
			!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("%s: want a read-only root, no privilege escalation, every capability dropped", w.meta.Name)
		}
		// Readiness is /healthz (which needs no token) on the container's own port.
		if pr := c.ReadinessProbe; pr == nil || pr.HTTPGet == nil || pr.HTTPGet.Path != "/healthz" || len(c.Ports) == 0 ||
			pr.HTTPGet.Port.StrVal != c.Ports[0].Name {
			t.Errorf("%s: want a readiness probe of /healthz on its port, got %+v", w.meta.Name, pr)
		}
		// The arguments are fdscope's: parse them as it does (--help stops before it runs).
		run := map[string]func(context.Context, []string, io.Writer, io.Writer) error{"serve": runServe, "hub": runHub}[c.Args[0]]
		if run == nil {
			t.Fatalf("%s: runs %q", w.meta.Name, c.Args[0])
		}
		if err := run(context.Background(), append(slices.Clone(c.Args[1:]), "--help"), io.Discard, io.Discard); err != nil {
			t.Errorf("%s: fdscope %s refuses its arguments: %v", w.meta.Name, c.Args[0], err)
		}
		// Every token file is in a Secret's volume.
		for _, fl := range []string{"token-file", "agent-token-file"} {
			path := flagValue(c.Args, fl)
			if path == "" {
				continue
			}
			mounted := false
			for _, m := range c.VolumeMounts {
				for _, v := range w.template.Spec.Volumes {
					if v.Name == m.Name && v.Secret != nil && v.Secret.SecretName != "" && filepath.Dir(path) == m.MountPath {
						mounted = true
					}
				}
			}
			if !mounted {
				t.Errorf("%s: --%s %s is not in a Secret's volume", w.meta.Name, fl, path)
			}
		}
	}

	a := agents.template.Spec
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
		if agents.template.Labels[k] != v {
			t.Error("the headless Service does not select the agents")
		}
	}
	listen := flagValue(ac.Args, "listen")
	hc := hub.template.Spec.Containers[0]
	if port := flagValue(hc.Args, "agent-port"); !strings.HasSuffix(listen, ":"+port) || len(headless.Spec.Ports) != 1 ||
		!strings.HasSuffix(listen, ":"+strconv.Itoa(int(headless.Spec.Ports[0].Port))) {
		t.Errorf("the agents listen on %s, the hub dials port %s, the Service says %v", listen, port, headless.Spec.Ports)
	}
	if name := flagValue(hc.Args, "agents-dns"); !strings.HasPrefix(name, headless.Name+"."+headless.Namespace+".") {
		t.Errorf("the hub resolves %q, not the headless Service", name)
	}
	for k, v := range hubSvc.Spec.Selector {
		if hub.template.Labels[k] != v {
			t.Error("the hub's Service does not select the hub")
		}
	}
}
