#pragma once
// Shell completion scripts and the man page, generated from the CLI11 command tree, so
// that they never disagree with `--help`.

#include <string>

namespace CLI {
class App;
}

namespace promote::cli {

/// A bash completion script for `app` and its subcommands: subcommand names, their
/// options, the values of options checked against a set (`--output`), files for -f,
/// --file and --history, directories for --workdir, and stage names (from the pipeline
/// file, through the hidden `promote __complete stages`) for --stage and --to.
std::string bash_completion(const CLI::App& app);

/// A zsh completion script: the bash one, loaded through zsh's bashcompinit.
std::string zsh_completion(const CLI::App& app);

/// A fish completion script with the same knowledge as the bash one.
std::string fish_completion(const CLI::App& app);

/// The man page promote.1 in roff (man macros): NAME, SYNOPSIS, DESCRIPTION, OPTIONS,
/// COMMANDS (each with its options and its examples footer), EXIT STATUS, ENVIRONMENT,
/// FILES, EXAMPLES. Text from the help is escaped so that none of it reads as a request.
std::string man_page(const CLI::App& app, const std::string& version);

}  // namespace promote::cli
