package spec

import (
	"reflect"
	"strings"
	"testing"
)

// App Runner's documented apprunner.yaml examples
// (docs.aws.amazon.com/apprunner/latest/dg/config-file-examples.html). An
// App Runner user's file must parse unchanged.
const (
	appRunnerMinimal = `version: 1.0
runtime: python3
build:
  commands:
    build:
      - pip install pipenv
      - pipenv install
run:
  command: python app.py
`

	appRunnerPythonFull = `version: 1.0
runtime: python3
build:
  commands:
    pre-build:
      - wget -c https://s3.amazonaws.com/amzn-s3-demo-bucket/test-lib.tar.gz -O - | tar -xz
    build:
      - pip install pipenv
      - pipenv install
    post-build:
      - python manage.py test
  env:
    - name: DJANGO_SETTINGS_MODULE
      value: "django_apprunner.settings"
    - name: MY_VAR_EXAMPLE
      value: "example"
run:
  runtime-version: 3.7.7
  command: pipenv run gunicorn django_apprunner.wsgi --log-file -
  network:
    port: 8000
    env: MY_APP_PORT
  env:
    - name: MY_VAR_EXAMPLE
      value: "example"
  secrets:
    - name: my-secret
      value-from: "arn:aws:secretsmanager:us-east-1:123456789012:secret:testingstackAppRunnerConstr-kJFXde2ULKbT-S7t8xR:username::"
    - name: my-parameter
      value-from: "arn:aws:ssm:us-east-1:123456789012:parameter/parameter-name"
    - name: my-parameter-only-name
      value-from: "parameter-name"
`

	appRunnerPythonRevised = `version: 1.0
runtime: python311
build:
  commands:
    build:
      - pip3 install pipenv
      - pipenv install
    post-build:
      - python3 manage.py test
  env:
    - name: DJANGO_SETTINGS_MODULE
      value: "django_apprunner.settings"
    - name: MY_VAR_EXAMPLE
      value: "example"
run:
  runtime-version: 3.11
  pre-run:
    - pip3 install pipenv
    - pipenv install
    - python3 copy-global-files.py
  command: pipenv run gunicorn django_apprunner.wsgi --log-file -
  network:
    port: 8000
    env: MY_APP_PORT
  env:
    - name: MY_VAR_EXAMPLE
      value: "example"
  secrets:
    - name: my-secret
      value-from: "arn:aws:secretsmanager:us-east-1:123456789012:secret:testingstackAppRunnerConstr-kJFXde2ULKbT-S7t8xR:username::"
`

	appRunnerNode = `version: 1.0
runtime: nodejs18
build:
  commands:
    pre-build:
      - npm install --only=dev
      - node test.js
    build:
      - npm install --production
    post-build:
      - node node_modules/ts-node/dist/bin.js
  env:
    - name: MY_VAR_EXAMPLE
      value: "example"
run:
  runtime-version: 18.19.0
  command: node app.js
  network:
    port: 8000
    env: APP_PORT
  env:
    - name: MY_VAR_EXAMPLE
      value: "example"
`
)

func TestParseAppConfigAppRunnerExamples(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want AppConfig
	}{
		{"minimal", appRunnerMinimal, AppConfig{
			Version: "1.0", Runtime: "python3",
			Build: BuildConfig{Commands: BuildCommands{Build: []string{"pip install pipenv", "pipenv install"}}},
			Run:   RunConfig{Command: "python app.py"},
		}},
		{"python, every key", appRunnerPythonFull, AppConfig{
			Version: "1.0", Runtime: "python3",
			Build: BuildConfig{
				Commands: BuildCommands{
					PreBuild:  []string{"wget -c https://s3.amazonaws.com/amzn-s3-demo-bucket/test-lib.tar.gz -O - | tar -xz"},
					Build:     []string{"pip install pipenv", "pipenv install"},
					PostBuild: []string{"python manage.py test"},
				},
				Env: []EnvVar{{"DJANGO_SETTINGS_MODULE", "django_apprunner.settings"}, {"MY_VAR_EXAMPLE", "example"}},
			},
			Run: RunConfig{
				RuntimeVersion: "3.7.7",
				Command:        "pipenv run gunicorn django_apprunner.wsgi --log-file -",
				Network:        NetworkConfig{Port: 8000, Env: "MY_APP_PORT"},
				Env:            []EnvVar{{"MY_VAR_EXAMPLE", "example"}},
				Secrets: []SecretRef{
					{"my-secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:testingstackAppRunnerConstr-kJFXde2ULKbT-S7t8xR:username::"},
					{"my-parameter", "arn:aws:ssm:us-east-1:123456789012:parameter/parameter-name"},
					{"my-parameter-only-name", "parameter-name"},
				},
			},
		}},
		{"python, revised build with pre-run", appRunnerPythonRevised, AppConfig{
			Version: "1.0", Runtime: "python311",
			Build: BuildConfig{
				Commands: BuildCommands{
					Build:     []string{"pip3 install pipenv", "pipenv install"},
					PostBuild: []string{"python3 manage.py test"},
				},
				Env: []EnvVar{{"DJANGO_SETTINGS_MODULE", "django_apprunner.settings"}, {"MY_VAR_EXAMPLE", "example"}},
			},
			Run: RunConfig{
				// 3.11 is kept as written, not read as the number 3.1.
				RuntimeVersion: "3.11",
				PreRun:         []string{"pip3 install pipenv", "pipenv install", "python3 copy-global-files.py"},
				Command:        "pipenv run gunicorn django_apprunner.wsgi --log-file -",
				Network:        NetworkConfig{Port: 8000, Env: "MY_APP_PORT"},
				Env:            []EnvVar{{"MY_VAR_EXAMPLE", "example"}},
				Secrets: []SecretRef{
					{"my-secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:testingstackAppRunnerConstr-kJFXde2ULKbT-S7t8xR:username::"},
				},
			},
		}},
		{"node", appRunnerNode, AppConfig{
			Version: "1.0", Runtime: "nodejs18",
			Build: BuildConfig{
				Commands: BuildCommands{
					PreBuild:  []string{"npm install --only=dev", "node test.js"},
					Build:     []string{"npm install --production"},
					PostBuild: []string{"node node_modules/ts-node/dist/bin.js"},
				},
				Env: []EnvVar{{"MY_VAR_EXAMPLE", "example"}},
			},
			Run: RunConfig{
				RuntimeVersion: "18.19.0",
				Command:        "node app.js",
				Network:        NetworkConfig{Port: 8000, Env: "APP_PORT"},
				Env:            []EnvVar{{"MY_VAR_EXAMPLE", "example"}},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, variant := range []struct{ name, in string }{
				{"as written", tt.in},
				{"CRLF and BOM", "\uFEFF" + strings.ReplaceAll(tt.in, "\n", "\r\n")},
				{"document markers", "---\n" + tt.in + "...\n"},
			} {
				got, err := ParseAppConfig([]byte(variant.in))
				if err != nil {
					t.Fatalf("%s: %v", variant.name, err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s:\n got %+v\nwant %+v", variant.name, got, tt.want)
				}
			}
		})
	}
}

func TestParseAppConfigApprunAdditions(t *testing.T) {
	in := `version: "1.0"
build:
  commands:
    pre-build: make deps
    build: >-
      go build
      -o app .
  dockerfile: deploy/Dockerfile
run:
  pre-run: ./migrate
  command: ./app
`
	got, err := ParseAppConfig([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := AppConfig{
		Version: "1.0",
		Build: BuildConfig{
			Commands:   BuildCommands{PreBuild: []string{"make deps"}, Build: []string{"go build -o app ."}},
			Dockerfile: "deploy/Dockerfile",
		},
		Run: RunConfig{PreRun: []string{"./migrate"}, Command: "./app"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got.EffectivePort() != DefaultPort {
		t.Errorf("EffectivePort() = %d, want the default %d", got.EffectivePort(), DefaultPort)
	}
	got.Run.Network.Port = 3000
	if got.EffectivePort() != 3000 {
		t.Errorf("EffectivePort() = %d, want 3000", got.EffectivePort())
	}
}

func TestParseAppConfigProblems(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Problem
	}{
		{"missing version", "run:\n  command: x\n", []Problem{
			{Field: "version", Message: "is required: write version: 1.0"}}},
		{"wrong version", "version: 2\n", []Problem{
			{Field: "version", Line: 1, Message: `must be 1.0, got "2"`}}},
		{"version 1.00", "version: 1.00\n", []Problem{
			{Field: "version", Line: 1, Message: `must be 1.0, got "1.00"`}}},
		{"port out of range", "version: 1.0\nrun:\n  network:\n    port: 70000\n", []Problem{
			{Field: "run.network.port", Line: 4, Message: "must be between 1 and 65535, got 70000"}}},
		{"negative port", "version: 1.0\nrun:\n  network:\n    port: -1\n", []Problem{
			{Field: "run.network.port", Line: 4, Message: "must be between 1 and 65535, got -1"}}},
		{"quoted port", "version: 1.0\nrun:\n  network:\n    port: \"80\"\n", []Problem{
			{Field: "run.network.port", Line: 4, Message: `expected an integer, found the quoted string "80"`}}},
		{"bad port env", "version: 1.0\nrun:\n  network:\n    env: MY-PORT\n", []Problem{
			{Field: "run.network.env", Line: 4, Message: `"MY-PORT" is not an environment variable name: use letters, digits and '_', not starting with a digit`}}},
		{"env names", "version: 1.0\nbuild:\n  env:\n    - name: 1X\n      value: a\n    - value: b\n    - name: OK\n    - name: OK\n", []Problem{
			{Field: "build.env[0].name", Line: 4, Message: `"1X" is not an environment variable name: use letters, digits and '_', not starting with a digit`},
			{Field: "build.env[1].name", Line: 6, Message: "is required"},
			{Field: "build.env[3].name", Line: 8, Message: `"OK" is already set by build.env[2]`}}},
		{"same name in build and run env is fine", "version: 1.0\nbuild:\n  env:\n    - name: A\nrun:\n  env:\n    - name: A\n", nil},
		{"env value with NUL", "version: 1.0\nrun:\n  env:\n    - name: A\n      value: \"a\\0b\"\n", []Problem{
			{Field: "run.env[0].value", Line: 5, Message: "must not contain a NUL byte"}}},
		{"secrets", "version: 1.0\nrun:\n  secrets:\n    - name: a\n    - value-from: arn\n    - name: a\n      value-from: x\n    - name: b=c\n      value-from: y\n", []Problem{
			{Field: "run.secrets[0].value-from", Line: 4, Message: "is required: name the secret to read"},
			{Field: "run.secrets[1].name", Line: 5, Message: "is required"},
			{Field: "run.secrets[2].name", Line: 6, Message: `"a" is already set by run.secrets[0]`},
			{Field: "run.secrets[3].name", Line: 8, Message: `"b=c" must not contain '=' or a NUL byte`}}},
		{"command with NUL", "version: 1.0\nrun:\n  command: \"a\\0\"\n", []Problem{
			{Field: "run.command", Line: 3, Message: "must not contain a NUL byte"}}},
		{"empty and NUL build commands", "version: 1.0\nbuild:\n  commands:\n    build:\n      - make\n      - \"\"\n      - \"x\\0\"\n", []Problem{
			{Field: "build.commands.build[1]", Line: 6, Message: "must not be empty"},
			{Field: "build.commands.build[2]", Line: 7, Message: "must not contain a NUL byte"}}},
		{"pre-run as a mapping", "version: 1.0\nrun:\n  pre-run:\n    a: b\n", []Problem{
			{Field: "run.pre-run", Line: 4, Message: "expected a command or a list of commands, found a mapping"}}},
		{"nested list in commands", "version: 1.0\nbuild:\n  commands:\n    build:\n      - make\n      - [a]\n", []Problem{
			{Field: "build.commands.build[1]", Line: 6, Message: "expected a string, found a list"}}},
		{"colon in a command", "version: 1.0\nbuild:\n  commands:\n    build:\n      - echo \"a: b\"\n", []Problem{
			{Field: "build.commands.build[0]", Line: 5, Message: "expected a string, found a mapping (a ': ' inside a value starts a mapping; quote the whole value)"}}},
		{"absolute dockerfile", "version: 1.0\nbuild:\n  dockerfile: /etc/Dockerfile\n", []Problem{
			{Field: "build.dockerfile", Line: 3, Message: `"/etc/Dockerfile" must be relative to the source root`}}},
		{"dockerfile outside the source", "version: 1.0\nbuild:\n  dockerfile: a/../../Dockerfile\n", []Problem{
			{Field: "build.dockerfile", Line: 3, Message: `"a/../../Dockerfile" must stay inside the source: '..' is not allowed`}}},
		{"unclean dockerfile", "version: 1.0\nbuild:\n  dockerfile: ./Dockerfile\n", []Problem{
			{Field: "build.dockerfile", Line: 3, Message: `"./Dockerfile" is not a clean path: write "Dockerfile"`}}},
		{"dockerfile directory", "version: 1.0\nbuild:\n  dockerfile: docker/\n", []Problem{
			{Field: "build.dockerfile", Line: 3, Message: `"docker/" must name a file`}}},
		{"windows dockerfile", "version: 1.0\nbuild:\n  dockerfile: 'docker\\Dockerfile'\n", []Problem{
			{Field: "build.dockerfile", Line: 3, Message: `"docker\\Dockerfile" must use '/' to separate directories`}}},
		{"unknown keys", "version: 1.0\nbuild:\n  comands:\n    build: make\nrun:\n  port: 80\n", []Problem{
			{Field: "build.comands", Line: 3, Message: `unknown field "comands" (did you mean "commands"?)`},
			{Field: "run.port", Line: 6, Message: `unknown field "port" (did you mean "network.port"?)`}}},
		{"list where a mapping goes", "version: 1.0\nrun:\n  - command: x\n", []Problem{
			{Field: "run", Line: 3, Message: "expected a mapping, found a list"}}},
		{"not a mapping", "- a\n- b\n", []Problem{
			{Line: 1, Message: "expected a mapping, found a list"}}},
		{"syntax error", "version: 1.0\nrun:\n\tcommand: x\n", []Problem{
			{Line: 3, Message: "tab character used for indentation; indent with spaces"}}},
		{"every problem at once, in file order", "run:\n  network:\n    port: 0x10000\n    env: 9\n  env:\n    - name: A B\nversion: 3\n", []Problem{
			{Field: "version", Message: `must be 1.0, got "3"`, Line: 7},
			{Field: "run.network.port", Line: 3, Message: "must be between 1 and 65535, got 65536"},
			{Field: "run.network.env", Line: 4, Message: `"9" is not an environment variable name: use letters, digits and '_', not starting with a digit`},
			{Field: "run.env[0].name", Line: 6, Message: `"A B" is not an environment variable name: use letters, digits and '_', not starting with a digit`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseAppConfig([]byte(tt.in))
			ps, ok := AsProblems(err)
			if err != nil && !ok {
				t.Fatalf("error %v is not Problems", err)
			}
			if err != nil && !reflect.DeepEqual(cfg, AppConfig{}) {
				t.Errorf("a config came back with the error: %+v", cfg)
			}
			want := Problems(tt.want)
			sortByLine(want)
			if !reflect.DeepEqual(ps, want) {
				t.Errorf("problems:\n got %#v\nwant %#v", ps, want)
			}
		})
	}
}

// sortByLine puts expected problems in the order ParseAppConfig reports
// them: by line, stably.
func sortByLine(ps Problems) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Line < ps[j-1].Line; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

func TestAppConfigValidate(t *testing.T) {
	valid := AppConfig{Version: "1.0"}
	if err := valid.Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
	bad := AppConfig{
		Version: "1",
		Runtime: "py\x00",
		Build: BuildConfig{
			Commands:   BuildCommands{PreBuild: []string{" "}, PostBuild: []string{"\x00"}},
			Dockerfile: "..",
		},
		Run: RunConfig{RuntimeVersion: "\x00", PreRun: []string{""}, Network: NetworkConfig{Port: 65536}},
	}
	ps, _ := AsProblems(bad.Validate())
	var fields []string
	for _, p := range ps {
		fields = append(fields, p.Field)
	}
	want := []string{"version", "runtime", "build.commands.pre-build[0]", "build.commands.post-build[0]",
		"build.dockerfile", "run.runtime-version", "run.pre-run[0]", "run.network.port"}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("fields = %v\nwant %v", fields, want)
	}
}
