//! Training data: where the pairs come from ([`layout`]), how sharp photos are blurred
//! ([`camera_shake`]) and how batches are made on worker threads ([`loader`]).

pub mod camera_shake;
pub mod layout;
pub mod loader;
