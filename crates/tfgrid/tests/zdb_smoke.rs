//! Smoke test: the binary starts, answers PING, stores and returns a value.

mod support;

use support::{Raw, Zdb};

#[test]
fn set_get_round_trip_over_a_real_socket() {
    let zdb = Zdb::start(&[]);
    let mut c = Raw::connect(zdb.addr());
    assert_eq!(c.call(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(c.call(&[b"SET", b"hello", b"world"]), b"$5\r\nhello\r\n");
    assert_eq!(c.call(&[b"GET", b"hello"]), b"$5\r\nworld\r\n");
}
