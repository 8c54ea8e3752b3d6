package buildpacks

import (
	"slices"
	"strings"
)

// Commands written by users (a Procfile line, run.command, package.json's
// start script) are shell command lines, while launch.toml holds an argv the
// launcher execs without a shell. commandArgv bridges the two so that the
// app, not a shell, is the process that receives SIGTERM wherever it can:
//
//   - a line of plain words is split into an argv and exec'd directly;
//   - a single command that needs the shell (quotes, $VARS, globs) runs as
//     sh -c "exec LINE", so sh replaces itself with the app;
//   - anything else (pipes, lists, assignments, builtins) runs as
//     sh -c "LINE".

// plainWordChars are the characters that mean nothing to sh outside quotes.
const plainWordChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,"

// shellOperators are the characters that make a line more than one simple
// command.
const shellOperators = ";&|<>()`\n{}"

// shellBuiltins cannot be exec'd; a line starting with one keeps its shell.
var shellBuiltins = []string{
	"!", ".", ":", "alias", "case", "cd", "eval", "exec", "exit", "export",
	"for", "if", "read", "set", "source", "trap", "ulimit", "umask", "unset",
	"until", "wait", "while",
}

// commandArgv turns a shell command line into the argv of a launch.toml
// process.
func commandArgv(line string) []string {
	line = strings.TrimSpace(line)
	words := strings.Fields(line)
	if len(words) == 0 {
		return nil
	}
	first := words[0]
	assigns := strings.Contains(first, "=")
	if !assigns && isPlainLine(line) && !slices.Contains(shellBuiltins, first) {
		return words
	}
	if assigns || hasShellOperator(line) || slices.Contains(shellBuiltins, first) {
		return []string{"sh", "-c", line}
	}
	return []string{"sh", "-c", "exec " + line}
}

// hasShellOperator reports whether line has an operator outside quotes,
// which makes it more than one simple command (or a redirection, which
// exec would apply to the shell itself).
func hasShellOperator(line string) bool {
	var quote rune
	escaped := false
	for _, r := range line {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case strings.ContainsRune(shellOperators, r):
			return true
		}
	}
	return quote != 0 || escaped
}

// isPlainLine reports whether every character of line is a plain word
// character or a blank.
func isPlainLine(line string) bool {
	for _, r := range line {
		if r == ' ' || r == '\t' {
			continue
		}
		if !strings.ContainsRune(plainWordChars, r) {
			return false
		}
	}
	return true
}

// resolveCommand turns a user's command line into a process argv. "npm
// start" and "npm run NAME" become the script itself, because the run
// image has node but not npm (and npm would stand between the app and its
// signals); scripts names package.json's scripts, nil when there is none.
func resolveCommand(line string, scripts map[string]string) []string {
	if script, ok := npmScript(line, scripts); ok {
		return commandArgv(script)
	}
	return commandArgv(line)
}

// npmScript returns the script an npm command line runs, when it is one
// of "npm start", "npm run NAME", "npm run-script NAME" with no other
// arguments and the script exists.
func npmScript(line string, scripts map[string]string) (string, bool) {
	words := strings.Fields(line)
	var name string
	switch {
	case len(words) == 2 && words[0] == "npm" && words[1] == "start":
		name = "start"
	case len(words) == 3 && words[0] == "npm" && (words[1] == "run" || words[1] == "run-script"):
		name = words[2]
	default:
		return "", false
	}
	script, ok := scripts[name]
	if !ok || strings.TrimSpace(script) == "" {
		return "", false
	}
	return script, true
}
