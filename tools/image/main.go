// Command image builds fdscope's container image without a container
// engine or a registry: one layer (the static binary, the CA certificates
// for https agents, a passwd and group naming uid 65532 nonroot) on an
// empty base, written as a tarball that `docker load`, `podman load` or
// `crane push` take. The image is reproducible: every time in it is zero.
//
//	go run ./image -binary ../build/fdscope -o ../build/fdscope-image.tar     (from tools/; task image)
//	go run ./image -check ../build/fdscope-image.tar
//
// It uses github.com/google/go-containerregistry, which is why it lives in
// the tools module, apart from fdscope's own.
package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// What the image's config says: the entrypoint, and the user the hub runs
// as (the agents' DaemonSet runs it as root: deploy/kubernetes).
const (
	entrypoint = "/fdscope"
	user       = "65532"
)

func main() {
	binary := flag.String("binary", "", "the static fdscope binary (CGO_ENABLED=0 go build)")
	certs := flag.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle to put at /etc/ssl/certs/ca-certificates.crt")
	out := flag.String("o", "fdscope-image.tar", "the image tarball to write")
	tag := flag.String("tag", "ghcr.io/fdscope/fdscope:latest", "the image's name in the tarball")
	arch := flag.String("arch", runtime.GOARCH, "the binary's architecture")
	check := flag.String("check", "", "check this image tarball instead of building one")
	flag.Parse()
	var err error
	if *check != "" {
		err = checkImage(*check)
	} else {
		err = build(*binary, *certs, *out, *tag, *arch)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// build writes the image of binary to out.
func build(binary, certs, out, tag, arch string) error {
	if binary == "" {
		return errors.New("-binary is required")
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("-tag: %w", err)
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	if err := staticELF(bin); err != nil {
		return fmt.Errorf("%s: %w", binary, err)
	}
	ca, err := os.ReadFile(certs)
	if err != nil {
		return fmt.Errorf("the CA certificates: %w", err)
	}
	layerTar, err := tarOf([]file{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{name: "fdscope", mode: 0o755, data: bin},
		{name: "tmp/", mode: 0o1777, dir: true},
	})
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil })
	if err != nil {
		return fmt.Errorf("the layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config = v1.Config{
		Entrypoint:   []string{entrypoint},
		User:         user,
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "9440/tcp": {}},
		Env:          []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Labels:       map[string]string{"org.opencontainers.image.source": "https://github.com/fdscope/fdscope"},
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	if err := tarball.WriteToFile(out, ref, img); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s %s\n", out, tag, d)
	return checkImage(out)
}

// file is one entry of the layer.
type file struct {
	name string
	mode int64
	dir  bool
	data []byte
}

// tarOf returns the layer's tar: owned by root, every time zero.
func tarOf(files []file) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Typeflag: tar.TypeReg, Size: int64(len(f.data)), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// staticELF says why b is not a static Linux executable, if it is not.
func staticELF(b []byte) error {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked: build it with CGO_ENABLED=0")
		}
	}
	return nil
}

// checkImage reads an image tarball back and checks it: its digests
// (validate.Image), its config, and that its layer holds a static
// executable at the entrypoint.
func checkImage(path string) error {
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := validate.Image(img); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{entrypoint}) || cf.Config.User != user || cf.OS != "linux" {
		return fmt.Errorf("%s: config: entrypoint %q, user %q, os %q", path, cf.Config.Entrypoint, cf.Config.User, cf.OS)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("%s: no %s in the image", path, entrypoint)
		}
		if err != nil {
			return err
		}
		if "/"+h.Name != entrypoint {
			continue
		}
		if h.Mode&0o111 == 0 {
			return fmt.Errorf("%s: %s is not executable (%o)", path, entrypoint, h.Mode)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := staticELF(b); err != nil {
			return fmt.Errorf("%s: %s: %w", path, entrypoint, err)
		}
		fmt.Printf("%s: ok: %s, %d MB, entrypoint %s, user %s\n", path, cf.Architecture, len(b)>>20, entrypoint, user)
		return nil
	}
}
