//! A small libtest suite with every outcome the collector must report.
#[cfg(test)]
mod tests {
    #[test]
    fn passes() {
        assert_eq!(2 + 2, 4);
    }

    #[test]
    fn fails() {
        assert_eq!(41, 42, "the answer is off by one");
    }

    #[test]
    #[ignore = "not on this target"]
    fn ignored() {}

    #[test]
    fn aborts() {
        std::process::abort();
    }
}
