// luarun runs an Argo CD resource customization script (health.lua, discovery.lua or action.lua) the way
// Argo CD runs one: gopher-lua (Lua 5.1) with only the package, base and table libraries and a "safe" os
// module (time and date, reached with require("os")), the object in the global `obj`, a one-second timeout, and
// the returned table turned into JSON. For an action, empty tables that were objects in the input are turned
// back into objects as Argo CD does before it computes the merge patch it sends.
//
//	luarun health|discovery|action SCRIPT.lua OBJECT.json
//
// Prints the returned value as JSON on stdout; exits 1 with the Lua error on stderr. LUARUN_NOW (Unix seconds)
// fixes what os.time() returns, for repeatable tests.
//
// Mirrors util/lua/lua.go and util/lua/oslib_safe.go of Argo CD (Apache-2.0); only what the scripts need.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	lua "github.com/yuin/gopher-lua"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: luarun health|discovery|action SCRIPT.lua OBJECT.json")
		os.Exit(2)
	}
	mode, scriptPath, objPath := os.Args[1], os.Args[2], os.Args[3]
	script, err := os.ReadFile(scriptPath)
	check(err)
	raw, err := os.ReadFile(objPath)
	check(err)
	var obj map[string]interface{}
	check(json.Unmarshal(raw, &obj))

	result, err := run(obj, string(script))
	check(err)
	switch mode {
	case "health", "discovery":
	case "action":
		if m, ok := result.(map[string]interface{}); ok {
			result = cleanReturnedObj(m, obj)
		}
	default:
		check(fmt.Errorf("unknown mode %q", mode))
	}
	out, err := json.Marshal(result)
	check(err)
	fmt.Println(string(out))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "luarun:", err)
		os.Exit(1)
	}
}

func run(obj map[string]interface{}, script string) (interface{}, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, pair := range []struct {
		n string
		f lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(pair.f), NRet: 0, Protect: true}, lua.LString(pair.n)); err != nil {
			return nil, err
		}
	}
	// Argo CD registers its safe os functions under the table library's name (so there is no global `os`)
	// and preloads them as the module "os": scripts write `local os = require("os")`.
	l.RegisterModule(lua.TabLibName, safeOs)
	l.PreloadModule("os", func(l *lua.LState) int {
		l.Push(l.SetFuncs(l.NewTable(), safeOs))
		return 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return nil, err
	}
	ret := l.Get(-1)
	if ret.Type() != lua.LTTable {
		return nil, fmt.Errorf("expect table output from Lua script, not %s", ret.Type())
	}
	return fromLua(ret)
}

var safeOs = map[string]lua.LGFunction{
	"time": func(l *lua.LState) int {
		now := time.Now().Unix()
		if fixed := os.Getenv("LUARUN_NOW"); fixed != "" {
			n, err := strconv.ParseInt(fixed, 10, 64)
			if err != nil {
				l.RaiseError("LUARUN_NOW: %v", err)
			}
			now = n
		}
		l.Push(lua.LNumber(now))
		return 1
	},
}

// toLua converts decoded JSON the way Argo CD's decodeValue does.
func toLua(l *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []interface{}:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(toLua(l, item))
		}
		return arr
	case map[string]interface{}:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), toLua(l, item))
		}
		return tbl
	}
	return lua.LNil
}

// fromLua converts a Lua value to JSON-ready Go values the way gopher-json (Argo CD's encoder) does: a table
// with an array part is an array, one with keys an object, an empty one an empty array.
func fromLua(value lua.LValue) (interface{}, error) {
	switch v := value.(type) {
	case lua.LBool:
		return bool(v), nil
	case lua.LNumber:
		return float64(v), nil
	case lua.LString:
		return string(v), nil
	case *lua.LNilType:
		return nil, nil
	case *lua.LTable:
		if n := v.MaxN(); n > 0 {
			arr := make([]interface{}, 0, n)
			for i := 1; i <= n; i++ {
				item, err := fromLua(v.RawGetInt(i))
				if err != nil {
					return nil, err
				}
				arr = append(arr, item)
			}
			return arr, nil
		}
		obj := map[string]interface{}{}
		var failure error
		v.ForEach(func(key, item lua.LValue) {
			name, ok := key.(lua.LString)
			if !ok {
				failure = fmt.Errorf("cannot encode a table with a %s key", key.Type())
				return
			}
			converted, err := fromLua(item)
			if err != nil {
				failure = err
			}
			obj[string(name)] = converted
		})
		if failure != nil {
			return nil, failure
		}
		if len(obj) == 0 {
			return []interface{}{}, nil
		}
		return obj, nil
	}
	return nil, fmt.Errorf("cannot encode a Lua %s", value.Type())
}

// cleanReturnedObj: an empty Lua table comes back as [] where the input had an object; Argo CD puts the input's
// object back (which also means an action cannot empty a map by deleting its last key).
func cleanReturnedObj(newObj, obj map[string]interface{}) map[string]interface{} {
	keys := make([]string, 0, len(obj))
	for key := range obj {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		newValue, ok := newObj[key]
		if !ok {
			continue
		}
		switch nv := newValue.(type) {
		case map[string]interface{}:
			if old, ok := obj[key].(map[string]interface{}); ok {
				newObj[key] = cleanReturnedObj(nv, old)
			}
		case []interface{}:
			switch old := obj[key].(type) {
			case map[string]interface{}:
				if len(nv) == 0 {
					newObj[key] = old
				}
			case []interface{}:
				newObj[key] = cleanReturnedArray(nv, old)
			}
		}
	}
	return newObj
}

// cleanReturnedArray: the same, inside lists (managedFields, conditions...).
func cleanReturnedArray(newArr, arr []interface{}) []interface{} {
	for i := range newArr {
		if i >= len(arr) {
			break
		}
		switch nv := newArr[i].(type) {
		case map[string]interface{}:
			if old, ok := arr[i].(map[string]interface{}); ok {
				newArr[i] = cleanReturnedObj(nv, old)
			}
		case []interface{}:
			if old, ok := arr[i].([]interface{}); ok {
				newArr[i] = cleanReturnedArray(nv, old)
			}
		}
	}
	return newArr
}
