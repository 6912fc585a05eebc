package kevents

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -type counters -type marks kevents bpf/kevents.c -- -I/usr/include -I../internal/bpfinclude
