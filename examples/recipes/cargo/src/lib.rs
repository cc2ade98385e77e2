//! CRC-32 (IEEE), computed on one thread or split across several: libtest runs these tests
//! on parallel threads, and some of them start threads of their own.

use std::sync::mpsc;
use std::thread;

/// The CRC-32 (IEEE 802.3) of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The CRC-32 of each chunk, computed on one thread per chunk.
pub fn crc32_chunks(chunks: &[&[u8]]) -> Vec<u32> {
    let (sender, receiver) = mpsc::channel();
    let handles: Vec<_> = chunks
        .iter()
        .enumerate()
        .map(|(index, chunk)| {
            let sender = sender.clone();
            let owned = chunk.to_vec();
            thread::spawn(move || sender.send((index, crc32(&owned))).unwrap())
        })
        .collect();
    drop(sender);
    for handle in handles {
        handle.join().unwrap();
    }
    let mut results: Vec<_> = receiver.iter().collect();
    results.sort();
    results.into_iter().map(|(_, crc)| crc).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn empty_input() {
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn chunks_on_threads() {
        assert_eq!(crc32_chunks(&[b"123456789", b"", b"a"]), vec![0xCBF4_3926, 0, 0xE8B7_BE43]);
    }

    #[test]
    fn shared_counter() {
        let counter = Arc::new(Mutex::new(0));
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let counter = Arc::clone(&counter);
                thread::spawn(move || *counter.lock().unwrap() += 1)
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(*counter.lock().unwrap(), 8);
    }

    #[test]
    fn panics_are_caught_on_another_thread() {
        let outcome = thread::spawn(|| panic!("expected")).join();
        assert!(outcome.is_err());
    }

    #[test]
    #[ignore = "slow under emulation"]
    fn large_input() {
        assert_eq!(crc32(&vec![0u8; 64 << 20]), 0x758D_6336);
    }
}
