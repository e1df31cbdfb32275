//! Pod addresses: a block of 127.0.0.0/8 per runner, handed out round-robin like a CNI's
//! host-local IPAM, so every pod binds its own loopback address.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// A block of loopback addresses, written `127.X.Y.Z/LEN` (LEN from 8 to 30).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressRange {
    base: u32,
    prefix: u8,
}

/// An address range that is not a block of 127.0.0.0/8.
#[derive(Debug, thiserror::Error)]
#[error(
    "address range {0:?} is not a block of 127.0.0.0/8 written 127.X.Y.Z/LEN with 8 <= LEN <= 30"
)]
pub struct ParseAddressRangeError(String);

impl AddressRange {
    /// A /16 picked from the process id, so runners started side by side rarely share one:
    /// `127.X.0.0/16` with X in 1..=254 (never 127.0.x.x, where 127.0.0.1 lives).
    pub fn for_process(pid: u32) -> Self {
        let second = 1 + (pid % 254) as u8;
        Self {
            base: u32::from(Ipv4Addr::new(127, second, 0, 0)),
            prefix: 16,
        }
    }

    fn size(self) -> u32 {
        1 << (32 - u32::from(self.prefix))
    }

    /// Host addresses of the block: neither its first nor last, never 127.0.0.1.
    fn host(self, offset: u32) -> Option<Ipv4Addr> {
        if offset == 0 || offset >= self.size() - 1 {
            return None;
        }
        let ip = Ipv4Addr::from(self.base + offset);
        (ip != Ipv4Addr::LOCALHOST).then_some(ip)
    }

    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip).wrapping_sub(self.base) < self.size()
    }
}

impl FromStr for AddressRange {
    type Err = ParseAddressRangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || ParseAddressRangeError(s.to_owned());
        let (ip, prefix) = s.split_once('/').ok_or_else(error)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| error())?;
        let prefix: u8 = prefix.parse().map_err(|_| error())?;
        if ip.octets()[0] != 127 || !(8..=30).contains(&prefix) {
            return Err(error());
        }
        let mask = u32::MAX << (32 - u32::from(prefix));
        Ok(Self {
            base: u32::from(ip) & mask,
            prefix,
        })
    }
}

impl std::fmt::Display for AddressRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

/// The addresses of one range in use, and where the next search starts.
#[derive(Debug)]
pub struct AddressPool {
    range: AddressRange,
    in_use: BTreeSet<Ipv4Addr>,
    cursor: u32,
}

impl AddressPool {
    pub fn new(range: AddressRange) -> Self {
        Self {
            range,
            in_use: BTreeSet::new(),
            cursor: 0,
        }
    }

    /// The next free address after the last one handed out for which `usable` holds
    /// (e.g. nothing else listens there); after more than `attempts` refusals, the first
    /// free one anyway.
    /// `None` when the range is exhausted.
    pub fn allocate(
        &mut self,
        attempts: usize,
        mut usable: impl FnMut(Ipv4Addr) -> bool,
    ) -> Option<Ipv4Addr> {
        let size = self.range.size();
        let mut refused = 0;
        let mut fallback = None;
        for step in 1..=size {
            let offset = (self.cursor + step) % size;
            let Some(ip) = self.range.host(offset) else {
                continue;
            };
            if self.in_use.contains(&ip) {
                continue;
            }
            fallback.get_or_insert((offset, ip));
            if usable(ip) {
                return Some(self.take(offset, ip));
            }
            refused += 1;
            if refused > attempts {
                break;
            }
        }
        fallback.map(|(offset, ip)| self.take(offset, ip))
    }

    /// Takes `ip` for a pod that already has it (a pod's IP never changes), whichever
    /// range it came from; refused for 127.0.0.1, non-loopback and addresses in use.
    pub fn adopt(&mut self, ip: Ipv4Addr) -> bool {
        ip.is_loopback() && ip != Ipv4Addr::LOCALHOST && self.in_use.insert(ip)
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        self.in_use.remove(&ip);
    }

    fn take(&mut self, offset: u32, ip: Ipv4Addr) -> Ipv4Addr {
        self.cursor = offset;
        self.in_use.insert(ip);
        ip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(range: &str) -> AddressPool {
        AddressPool::new(range.parse().unwrap())
    }

    #[test]
    fn addresses_are_distinct_and_skip_the_network_and_broadcast_addresses() {
        let mut pool = pool("127.9.0.0/30");
        assert_eq!(
            pool.allocate(0, |_| true),
            Some(Ipv4Addr::new(127, 9, 0, 1))
        );
        assert_eq!(
            pool.allocate(0, |_| true),
            Some(Ipv4Addr::new(127, 9, 0, 2))
        );
        assert_eq!(pool.allocate(0, |_| true), None, "a /30 has two hosts");
    }

    #[test]
    fn a_released_address_is_handed_out_again_only_after_the_others() {
        let mut pool = pool("127.9.0.0/29");
        let first = pool.allocate(0, |_| true).unwrap();
        pool.release(first);
        let next = pool.allocate(0, |_| true).unwrap();
        assert_ne!(next, first, "round-robin, not last-in first-out");
        for _ in 0..5 {
            pool.allocate(0, |_| true).unwrap();
        }
        assert_eq!(pool.allocate(0, |_| true), None);
        pool.release(first);
        assert_eq!(pool.allocate(0, |_| true), Some(first));
    }

    #[test]
    fn a_busy_address_is_skipped_while_attempts_remain() {
        let mut pool = pool("127.9.0.0/24");
        let busy = Ipv4Addr::new(127, 9, 0, 1);
        assert_eq!(
            pool.allocate(3, |ip| ip != busy),
            Some(Ipv4Addr::new(127, 9, 0, 2))
        );
        let mut pool = self::pool("127.9.0.0/24");
        assert_eq!(
            pool.allocate(2, |_| false),
            Some(busy),
            "after the attempts, the first free one"
        );
    }

    #[test]
    fn localhost_is_never_handed_out() {
        let mut pool = pool("127.0.0.0/30");
        assert_eq!(
            pool.allocate(0, |_| true),
            Some(Ipv4Addr::new(127, 0, 0, 2))
        );
        assert!(!pool.adopt(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn a_pods_earlier_address_is_adopted_from_any_range() {
        let mut pool = pool("127.9.0.0/30");
        assert!(pool.adopt(Ipv4Addr::new(127, 200, 3, 4)));
        assert!(!pool.adopt(Ipv4Addr::new(127, 200, 3, 4)), "already in use");
        assert!(!pool.adopt(Ipv4Addr::LOCALHOST));
        assert!(!pool.adopt(Ipv4Addr::new(10, 0, 0, 1)));
        assert!(pool.adopt(Ipv4Addr::new(127, 9, 0, 1)));
        assert_eq!(
            pool.allocate(0, |_| true),
            Some(Ipv4Addr::new(127, 9, 0, 2)),
            "an adopted address is in use"
        );
    }

    #[test]
    fn ranges_parse_and_come_from_the_pid() {
        assert_eq!(
            "127.42.7.9/16".parse::<AddressRange>().unwrap().to_string(),
            "127.42.0.0/16"
        );
        assert!("10.0.0.0/16".parse::<AddressRange>().is_err());
        assert!("127.0.0.0/31".parse::<AddressRange>().is_err());
        let range = AddressRange::for_process(1234);
        assert!(range.contains(Ipv4Addr::new(127, 1 + (1234 % 254) as u8, 3, 4)));
        assert!(!range.contains(Ipv4Addr::LOCALHOST));
    }
}
