// Command argocd-lua-health runs an Argo CD resource health check written in Lua against
// one object, the way Argo CD does: the object (JSON, on stdin) is the global `obj`, the
// script runs in gopher-lua (the interpreter Argo CD embeds) with only the base, table
// and package libraries open and a one-second deadline, and must return a table whose
// `status` is one of Argo CD's health codes. Prints that table as JSON.
//
//	argocd-lua-health health.lua < object.json
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Argo CD's health status codes.
var statuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true,
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: argocd-lua-health SCRIPT < OBJECT.json")
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("reading the script: %v", err)
	}
	var obj map[string]any
	if err := json.NewDecoder(os.Stdin).Decode(&obj); err != nil {
		fail("reading the object: %v", err)
	}
	result, err := run(string(script), obj)
	if err != nil {
		fail("%v", err)
	}
	status, _ := result["status"].(string)
	if !statuses[status] {
		fail("the script returned status %q, not an Argo CD health code", status)
	}
	out, _ := json.Marshal(result)
	fmt.Println(string(out))
}

func run(script string, obj map[string]any) (map[string]any, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, fmt.Errorf("opening %s: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decode(l, obj))
	if err := l.DoString(script); err != nil {
		return nil, fmt.Errorf("running the script: %w", err)
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type())
	}
	result := map[string]any{}
	table.ForEach(func(k, v lua.LValue) {
		result[k.String()] = v.String()
	})
	return result, nil
}

// decode turns a JSON value into Lua values as Argo CD's decodeValue does: objects and
// arrays become tables (arrays 1-based), null becomes nil.
func decode(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(decode(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for key, item := range v {
			t.RawSetH(lua.LString(key), decode(l, item))
		}
		return t
	}
	return lua.LNil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "argocd-lua-health: "+format+"\n", args...)
	os.Exit(1)
}
