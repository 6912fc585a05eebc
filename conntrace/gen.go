package conntrace

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -type event -type counters conntrace bpf/conntrace.c -- -I/usr/include -I../internal/bpfinclude
