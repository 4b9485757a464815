# What the demo scripts share (sourced, not run): a scratch repository with a local bare
# repository as its remote, and how each step and promote command is shown. They set
# $promote (the binary) and $work (a scratch directory) first.

# scratch_repo NAME EMAIL MESSAGE PATH...: copies PATH... into $work/NAME, commits them (with a
# .gitignore for promote's .promote/) as "Demo CI" <EMAIL>, pushes to $work/remote.git and
# changes into the checkout.
scratch_repo() {
  local name=$1 email=$2 message=$3
  shift 3
  git init -q --bare -b main "$work/remote.git"
  mkdir "$work/$name"
  cp -r "$@" "$work/$name/"
  cd "$work/$name"
  git init -q -b main
  git config user.name "Demo CI"
  git config user.email "$email"
  printf '.promote/\n' > .gitignore
  git add -A
  git commit -q -m "$message"
  git remote add origin "$work/remote.git"
  git push -q -u origin main
}

step() { printf '\n==> %s\n' "$*"; }

# run ARGS...: shows and runs `promote ARGS...`, and its exit status, whatever it is.
run() {
  echo "\$ promote $*"
  local code=0
  "$promote" "$@" || code=$?
  echo "(exit $code)"
  return 0
}
