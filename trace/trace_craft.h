/* Crafted traces (host only): valid framing, written by the project's own
 * writer, with one kind of impossible content. Used as regression inputs
 * (`hvrr synth --craft KIND`, replay/cli_test.sh) and as fuzzing seeds
 * (`make fuzz-all`). Based on the synthetic trace (trace_synth.h).
 *
 * Kinds: see trace_craft_kinds[]; each is described in trace_craft.c. */
#ifndef HVRR_TRACE_CRAFT_H
#define HVRR_TRACE_CRAFT_H

#include <stddef.h>
#include <stdint.h>

extern const char *const trace_craft_kinds[]; /* NULL-terminated */

/* Builds the crafted trace of `kind` into a malloc'd buffer: the records of
 * the trace in[0..in_len) re-encoded (the target record is the first
 * suitable one from exit number `exits`/2 on), or with in NULL the synthetic
 * trace (seed, exits, checkpoint_every as trace_synth_config). Returns 0,
 * -1 for an unknown kind, -2 when out of memory or the writer failed. */
int trace_craft(const char *kind, uint64_t seed, uint64_t exits, uint64_t checkpoint_every,
                const void *in, size_t in_len, uint8_t **out, size_t *out_len);

#endif
