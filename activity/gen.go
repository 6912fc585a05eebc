package activity

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -type pipe_record pipes bpf/pipes.c -- -I/usr/include -I../internal/bpfinclude
