//! Pure e-invoice readers.
