#include "engine/cli/app.hpp"

int main(int argc, char** argv) { return promote::cli::main(argc, argv); }
