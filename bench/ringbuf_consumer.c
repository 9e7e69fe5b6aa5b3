// SPDX-License-Identifier: GPL-2.0
/* libbpf's ring buffer consumer as the speed limit for pybpf's: drains a BPF ring buffer
 * map (an fd inherited from the Python bench) until COUNT records were seen, touching
 * each record's first field; prints "<count> <elapsed ns> <checksum>".
 *
 *   gcc -O2 -o build/ringbuf_consumer bench/ringbuf_consumer.c -lbpf
 *   ringbuf_consumer MAP_FD COUNT
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <bpf/libbpf.h>

struct counter {
	unsigned long long n;
	unsigned long long sum;
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct counter *c = ctx;

	(void)size;
	c->n++;
	c->sum += *(unsigned int *)data;
	return 0;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct counter c = { 0, 0 };
	struct ring_buffer *rb;
	unsigned long long want;
	long long t0, t1;
	int fd, err;

	if (argc != 3) {
		fprintf(stderr, "usage: %s MAP_FD COUNT\n", argv[0]);
		return 2;
	}
	fd = atoi(argv[1]);
	want = strtoull(argv[2], NULL, 10);
	rb = ring_buffer__new(fd, on_record, &c, NULL);
	if (!rb) {
		fprintf(stderr, "ring_buffer__new: %d\n", -errno);
		return 1;
	}
	t0 = now_ns();
	while (c.n < want) {
		err = ring_buffer__consume(rb);
		if (err < 0) {
			fprintf(stderr, "ring_buffer__consume: %d\n", err);
			break;
		}
		if (err == 0 && ring_buffer__poll(rb, 1000) == 0)
			break;          /* nothing more within a second */
	}
	t1 = now_ns();
	printf("%llu %lld %llu\n", c.n, t1 - t0, c.sum);
	ring_buffer__free(rb);
	return c.n == want ? 0 : 1;
}
