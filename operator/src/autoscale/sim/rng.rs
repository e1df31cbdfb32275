//! A tiny seeded pseudo-random generator (SplitMix64), so runs repeat exactly.

/// SplitMix64: small, fast, good enough for load noise.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Roughly standard normal (sum of four uniforms, rescaled): mean 0, deviation 1.
    pub fn normal(&mut self) -> f64 {
        let s: f64 = (0..4).map(|_| self.uniform()).sum();
        (s - 2.0) * 3.0f64.sqrt()
    }

    /// Exponential with mean 1.
    pub fn exponential(&mut self) -> f64 {
        -(1.0 - self.uniform()).ln()
    }

    /// Poisson with mean `mean` (Knuth's product of uniforms; for the small means of event
    /// counts per second).
    pub fn poisson(&mut self, mean: f64) -> u64 {
        if mean.is_nan() || mean <= 0.0 {
            return 0;
        }
        let limit = (-mean.min(500.0)).exp();
        let (mut k, mut product) = (0, self.uniform());
        while product > limit {
            k += 1;
            product *= self.uniform();
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
        assert_ne!(Rng::new(8).next_u64(), Rng::new(7).next_u64());
    }

    #[test]
    fn uniforms_stay_in_the_unit_interval_and_normals_centre_on_zero() {
        let mut r = Rng::new(1);
        assert!(
            (0..10_000)
                .map(|_| r.uniform())
                .all(|u| (0.0..1.0).contains(&u))
        );
        let mean = (0..20_000).map(|_| r.normal()).sum::<f64>() / 20_000.0;
        assert!(mean.abs() < 0.05, "mean {mean}");
    }

    #[test]
    fn exponentials_and_poissons_have_the_mean_asked_for() {
        let mut r = Rng::new(2);
        let n = 50_000;
        let e = (0..n).map(|_| r.exponential()).sum::<f64>() / n as f64;
        assert!((e - 1.0).abs() < 0.03, "exponential mean {e}");
        for mean in [0.01, 0.5, 4.0] {
            let p = (0..n).map(|_| r.poisson(mean)).sum::<u64>() as f64 / n as f64;
            assert!(
                (p - mean).abs() < 0.05 * mean.max(0.2),
                "poisson({mean}) mean {p}"
            );
        }
        assert_eq!(r.poisson(0.0), 0);
        assert_eq!(r.poisson(f64::NAN), 0);
    }
}
