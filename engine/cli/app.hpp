#pragma once
// The command line: flag parsing and dispatch only; the work is in the library.

namespace promote::cli {

/// Runs promote with these arguments; returns the exit code of design.md.
int main(int argc, char** argv);

}  // namespace promote::cli
