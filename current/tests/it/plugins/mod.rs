//! The git and fs plugins under a real engine, with real repositories and files.

mod fs;
mod git;
