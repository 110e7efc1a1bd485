//! Seed derivation: every random stream of a run (weights per layer, device programming per
//! array, amplifier offsets, noise per sample and layer, data) gets a seed of its own, mixed
//! from the run's seed and the stream's index, so that streams are independent and adding one
//! leaves the others alone.
//!
//! # Reference
//! Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014
//! (SplitMix64: the golden-ratio increment and the finaliser [`splitmix64_mix`]).

/// SplitMix64's increment, 2^64 / phi rounded to an odd number.
pub const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finaliser: a bijection of 64-bit words in which every input bit affects every
/// output bit.
pub fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of stream `stream` of a run seeded with `seed`.
pub fn stream_seed(seed: u64, stream: u64) -> u64 {
    splitmix64_mix(seed ^ stream.wrapping_add(1).wrapping_mul(GOLDEN_GAMMA))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first outputs of the reference SplitMix64 generator seeded with 0 (state advanced
    /// by GOLDEN_GAMMA, then mixed), as published with Vigna's `splitmix64.c`.
    #[test]
    fn mix_matches_the_reference_generator() {
        let out: Vec<u64> = (1..=3u64)
            .map(|k| splitmix64_mix(k.wrapping_mul(GOLDEN_GAMMA)))
            .collect();
        assert_eq!(
            out,
            [
                0xE220_A839_7B1D_CDAF,
                0x6E78_9E6A_A1B9_65F4,
                0x06C4_5D18_8009_454F
            ]
        );
    }

    #[test]
    fn streams_differ_and_are_reproducible() {
        assert_eq!(stream_seed(7, 3), stream_seed(7, 3));
        assert_ne!(stream_seed(7, 3), stream_seed(7, 4));
        assert_ne!(stream_seed(7, 3), stream_seed(8, 3));
        // Stream 0 of seed 0 is not 0: the stream index is offset by one before mixing.
        assert_ne!(stream_seed(0, 0), 0);
    }
}
