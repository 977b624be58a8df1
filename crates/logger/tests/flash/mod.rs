//! A NOR flash in memory that loses power when told: before, in the middle of, or after any
//! write or erase. It keeps what a real chip keeps:
//!
//! - an erase sets a sector's bits to 1; a write can only clear bits (writing a word twice
//!   clears the union, which is what `MultiwriteNorFlash` promises);
//! - a write cut in the middle has written some words, and in the word it was at, some of the
//!   bits it was clearing are cleared and the others not (a torn word);
//! - an erase cut in the middle has set some of the sector's bits to 1 and left the others as
//!   they were;
//! - once the power is gone every operation fails until [`Flash::power_on`].
//!
//! Which words and bits a cut tears comes from a seed, so every run is reproducible. Shared by
//! the tests (each uses a part of it).
#![allow(dead_code)]

use embedded_storage_async::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// The ESP32-C3's flash: 4-byte words, 4 KiB sectors.
pub const WORD: usize = 4;
pub const SECTOR: usize = 4096;

/// Where in an operation the power goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The operation never starts.
    Before,
    /// Part of it is done (a torn word or a half-erased sector).
    During,
    /// It is done, but the power goes before the caller hears so.
    After,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    PowerLost,
    /// The store asked for something the chip cannot do: a test failure, never expected.
    Misuse(NorFlashErrorKind),
}

impl NorFlashError for Failure {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::PowerLost => NorFlashErrorKind::Other,
            Self::Misuse(kind) => *kind,
        }
    }
}

pub struct Flash {
    bytes: Vec<u8>,
    /// Writes and erases started so far (the cut points).
    pub operations: usize,
    cut: Option<(usize, Cut)>,
    powered: bool,
    rng: u64,
    /// Misaligned or out-of-range requests seen (always 0 for a correct store).
    pub misuses: usize,
}

impl Flash {
    /// `sectors` erased sectors, the power on, no cut planned.
    pub fn new(sectors: usize) -> Self {
        Self {
            bytes: vec![0xff; sectors * SECTOR],
            operations: 0,
            cut: None,
            powered: true,
            rng: 0x9e37_79b9_7f4a_7c15,
            misuses: 0,
        }
    }

    /// The power goes at the write or erase number `at` (counting from 0), as `how` says.
    pub fn cut_at(&mut self, at: usize, how: Cut, seed: u64) {
        self.cut = Some((at, how));
        self.rng = seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1;
    }

    /// Power back on ("reboot"), no cut planned.
    pub fn power_on(&mut self) {
        self.powered = true;
        self.cut = None;
    }

    pub fn powered(&self) -> bool {
        self.powered
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    fn check(&mut self, offset: u32, len: usize, align: usize) -> Result<(), Failure> {
        if !self.powered {
            return Err(Failure::PowerLost);
        }
        let offset = offset as usize;
        if !offset.is_multiple_of(align) || !len.is_multiple_of(align) {
            self.misuses += 1;
            return Err(Failure::Misuse(NorFlashErrorKind::NotAligned));
        }
        if offset + len > self.bytes.len() {
            self.misuses += 1;
            return Err(Failure::Misuse(NorFlashErrorKind::OutOfBounds));
        }
        Ok(())
    }

    /// Counts an operation; says how the power goes in it, if it does.
    fn begin(&mut self) -> Option<Cut> {
        let n = self.operations;
        self.operations += 1;
        match self.cut {
            Some((at, how)) if at == n => {
                self.powered = false;
                Some(how)
            }
            _ => None,
        }
    }
}

impl ErrorType for Flash {
    type Error = Failure;
}

impl ReadNorFlash for Flash {
    const READ_SIZE: usize = WORD;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Failure> {
        self.check(offset, bytes.len(), WORD)?;
        let offset = offset as usize;
        bytes.copy_from_slice(&self.bytes[offset..offset + bytes.len()]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl NorFlash for Flash {
    const WRITE_SIZE: usize = WORD;
    const ERASE_SIZE: usize = SECTOR;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), Failure> {
        self.check(from, to.saturating_sub(from) as usize, SECTOR)?;
        if to < from {
            self.misuses += 1;
            return Err(Failure::Misuse(NorFlashErrorKind::OutOfBounds));
        }
        let range = from as usize..to as usize;
        match self.begin() {
            None => {
                self.bytes[range].fill(0xff);
                Ok(())
            }
            Some(Cut::Before) => Err(Failure::PowerLost),
            Some(Cut::After) => {
                self.bytes[range].fill(0xff);
                Err(Failure::PowerLost)
            }
            Some(Cut::During) => {
                // Sector by sector; the one the power went in is half erased, bit by bit.
                let sectors = range.len() / SECTOR;
                let done = (self.next_random() as usize) % sectors.max(1);
                let start = range.start;
                self.bytes[start..start + done * SECTOR].fill(0xff);
                let torn = start + done * SECTOR;
                for i in torn..torn + SECTOR {
                    self.bytes[i] |= self.next_random() as u8;
                }
                Err(Failure::PowerLost)
            }
        }
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Failure> {
        self.check(offset, bytes.len(), WORD)?;
        let start = offset as usize;
        let program = |flash: &mut Self, from: usize, to: usize| {
            let cells = &mut flash.bytes[start + from..start + to];
            for (cell, byte) in cells.iter_mut().zip(&bytes[from..to]) {
                *cell &= byte;
            }
        };
        match self.begin() {
            None => {
                program(self, 0, bytes.len());
                Ok(())
            }
            Some(Cut::Before) => Err(Failure::PowerLost),
            Some(Cut::After) => {
                program(self, 0, bytes.len());
                Err(Failure::PowerLost)
            }
            Some(Cut::During) if bytes.is_empty() => Err(Failure::PowerLost),
            Some(Cut::During) => {
                let words = bytes.len() / WORD;
                let done = (self.next_random() as usize) % words.max(1);
                program(self, 0, done * WORD);
                // The word it was at: some of the bits it clears are cleared.
                let word = done * WORD..(done + 1) * WORD;
                for (i, byte) in word.clone().zip(&bytes[word]) {
                    let clearing = self.bytes[start + i] & !byte;
                    let cleared = clearing & self.next_random() as u8;
                    self.bytes[start + i] &= !cleared;
                }
                Err(Failure::PowerLost)
            }
        }
    }
}

impl MultiwriteNorFlash for Flash {}
