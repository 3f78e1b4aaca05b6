fn main() -> std::process::ExitCode {
    leadflow::cli::main()
}
