/*
 * IPC ping-pong: a parent and its child pass a counter back and forth over
 * IPC, each side adding one, so every round trip is two sends, two receives
 * and two switches between address spaces.  Parameter pingpong.rounds=N
 * (default 1000): how many round trips.  Only the parent prints, after the
 * last one, so the transcript is the same whatever the timer does.
 */
#include <lib.h>

void umain(int argc, char **argv)
{
	long rounds = arg_long(argc, argv, "pingpong.rounds", 1000);
	envid_t from;

	if (rounds < 1)
		rounds = 1;
	envid_t child = fork();
	if (child < 0)
		panic("fork: %d", child);
	if (child == 0) {
		for (long i = 0; i < rounds; i++) {
			uint32_t v = ipc_recv(&from, NULL, NULL);
			ipc_send(from, v + 1, NULL, 0);
		}
		return;
	}

	uint32_t v = 0;
	for (long i = 0; i < rounds; i++) {
		ipc_send(child, v + 1, NULL, 0);
		v = ipc_recv(&from, NULL, NULL);
		if (from != child)
			panic("a value from %08x, not the child", from);
	}
	wait(child);
	printf("pingpong: %ld round trips, the counter is %u\n", rounds, v);
}
