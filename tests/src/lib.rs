//! Test support for spate: finds or starts the local environment of real servers.
