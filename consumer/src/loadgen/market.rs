//! A deterministic simulated market: symbols with random-walk prices and trade ids
//! unique and increasing per (exchange, symbol).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::codec::trade::Side;

/// Well-known symbols with a plausible starting price; more are synthesised.
const KNOWN: [(&str, f64); 16] = [
    ("BTC-USD", 64_000.0),
    ("ETH-USD", 3_200.0),
    ("SOL-USD", 150.0),
    ("XRP-USD", 0.52),
    ("ADA-USD", 0.45),
    ("DOGE-USD", 0.12),
    ("AVAX-USD", 35.0),
    ("LINK-USD", 14.0),
    ("DOT-USD", 6.5),
    ("LTC-USD", 80.0),
    ("BCH-USD", 450.0),
    ("UNI-USD", 9.0),
    ("ATOM-USD", 8.0),
    ("XLM-USD", 0.11),
    ("ETC-USD", 25.0),
    ("AAVE-USD", 95.0),
];

/// Exchanges trade ids are kept apart for: 0 `coinbase` (normalised and Exchange
/// `match` share it), 1 `coinbase-advanced`.
pub(crate) const EXCHANGES: usize = 2;

#[derive(Debug, Clone)]
struct SymbolState {
    name: String,
    price: f64,
    decimals: usize,
    next_id: [u64; EXCHANGES],
}

/// One generated trade, before rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedTrade {
    pub symbol: usize,
    pub side: Side,
    pub price: f64,
    pub size: f64,
    pub trade_id: u64,
    pub timestamp_ns: i64,
}

#[derive(Debug, Clone)]
pub struct Market {
    symbols: Vec<SymbolState>,
    rng: StdRng,
}

impl Market {
    /// `symbols` symbols (at least 1), trade ids starting at `id_base` (e.g. the start
    /// time in milliseconds × 1000, so successive runs do not reuse ids).
    pub fn new(symbols: usize, id_base: u64, seed: u64) -> Self {
        let symbols = (0..symbols.max(1))
            .map(|i| {
                let (name, price) = match KNOWN.get(i) {
                    Some((n, p)) => ((*n).to_owned(), *p),
                    None => (format!("SYN{i}-USD"), 10.0 + i as f64),
                };
                let decimals = if price >= 1000.0 {
                    2
                } else if price >= 1.0 {
                    4
                } else {
                    6
                };
                SymbolState {
                    name,
                    price,
                    decimals,
                    next_id: [id_base; EXCHANGES],
                }
            })
            .collect();
        Market {
            symbols,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    pub fn symbol(&self, i: usize) -> &str {
        &self.symbols[i].name
    }

    /// Decimal places prices of symbol `i` are rendered with.
    pub fn decimals(&self, i: usize) -> usize {
        self.symbols[i].decimals
    }

    /// A random symbol index.
    pub fn pick_symbol(&mut self) -> usize {
        self.rng.random_range(0..self.symbols.len())
    }

    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// The next trade of `symbol` on `exchange` (0..EXCHANGES) at `timestamp_ns`.
    pub fn next_trade(
        &mut self,
        symbol: usize,
        exchange: usize,
        timestamp_ns: i64,
    ) -> GeneratedTrade {
        let step: f64 = self.rng.random_range(-0.0005..0.0005);
        let side = if self.rng.random_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let size = (self.rng.random::<f64>().powi(3) * 2.0).max(0.000_01);
        let s = &mut self.symbols[symbol];
        let tick = 10f64.powi(-(s.decimals as i32));
        s.price = (s.price * (1.0 + step)).max(tick);
        let trade_id = s.next_id[exchange];
        s.next_id[exchange] += 1;
        GeneratedTrade {
            symbol,
            side,
            price: s.price,
            size,
            trade_id,
            timestamp_ns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_per_exchange_and_symbol() {
        let mut m = Market::new(3, 1000, 1);
        let a = m.next_trade(0, 0, 1);
        let b = m.next_trade(0, 0, 2);
        let c = m.next_trade(0, 1, 3);
        let d = m.next_trade(1, 0, 4);
        assert_eq!(
            (a.trade_id, b.trade_id, c.trade_id, d.trade_id),
            (1000, 1001, 1000, 1000)
        );
    }

    #[test]
    fn prices_walk_but_stay_positive_and_sizes_are_positive() {
        let mut m = Market::new(20, 0, 2);
        assert_eq!(m.symbol(0), "BTC-USD");
        assert_eq!(m.symbol(19), "SYN19-USD");
        let start = 64_000.0;
        let mut last = start;
        for i in 0..10_000 {
            let t = m.next_trade(0, 0, i);
            assert!(t.price > 0.0 && t.size > 0.0);
            last = t.price;
        }
        assert_ne!(last, start);
        assert!(
            (last / start - 1.0).abs() < 0.5,
            "a random walk, not a jump: {last}"
        );
    }

    #[test]
    fn same_seed_same_market() {
        let run = |seed| {
            let mut m = Market::new(4, 0, seed);
            (0..50)
                .map(|i| m.next_trade(i % 4, 0, 0).price)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }
}
