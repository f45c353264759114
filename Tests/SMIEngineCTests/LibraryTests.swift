import Foundation
import Testing

/// The header on its own, and the deployable library (scripts/build-lib.sh) against the header:
/// exactly the header's functions exported, static archive usable from C without the toolchain.
@Suite("C header and built library", .serialized)
struct LibraryTests {
    static let header = packageRoot.appendingPathComponent("include/smi_engine.h")
    static let map = packageRoot.appendingPathComponent("include/smi_engine.map")
    static let dist = packageRoot.appendingPathComponent(".build-lib/dist")

    /// The functions the header declares (comments removed first).
    static func headerFunctions() throws -> Set<String> {
        var text = try String(contentsOf: header, encoding: .utf8)
        text = text.replacingOccurrences(of: #"/\*[\s\S]*?\*/"#, with: " ", options: .regularExpression)
        text = text.replacingOccurrences(of: #"//[^\n]*"#, with: " ", options: .regularExpression)
        text = text.replacingOccurrences(of: #"#[^\n]*"#, with: " ", options: .regularExpression)
        let regex = try NSRegularExpression(pattern: #"\b(smi_[a-z0-9_]+)\s*\([^;{]*\)\s*;"#)
        let range = NSRange(text.startIndex..., in: text)
        return Set(regex.matches(in: text, range: range).compactMap { m in
            Range(m.range(at: 1), in: text).map { String(text[$0]) }
        })
    }

    static func mapFunctions() throws -> Set<String> {
        let text = try String(contentsOf: map, encoding: .utf8)
        return Set(text.split(whereSeparator: { " \n\t;".contains($0) }).map(String.init).filter { $0.hasPrefix("smi_") && !$0.contains(".") })
    }

    /// Builds the library with scripts/build-lib.sh unless it is newer than every input.
    static func builtLibrary() throws -> URL {
        let so = dist.appendingPathComponent("libsmiengine.so.0")
        let fm = FileManager.default
        let builtAt = (try? fm.attributesOfItem(atPath: so.path)[.modificationDate] as? Date) ?? .distantPast
        var newest = Date.distantPast
        for folder in ["Sources", "include"] {
            let root = packageRoot.appendingPathComponent(folder)
            for case let file as String in fm.enumerator(atPath: root.path) ?? NSEnumerator() {
                if let d = try? fm.attributesOfItem(atPath: root.appendingPathComponent(file).path)[.modificationDate] as? Date {
                    newest = max(newest, d)
                }
            }
        }
        if builtAt < newest || !fm.fileExists(atPath: dist.appendingPathComponent("libsmiengine.a").path) {
            let result = try run("bash", [packageRoot.appendingPathComponent("scripts/build-lib.sh").path, dist.path])
            try #require(result.status == 0, "scripts/build-lib.sh failed:\n\(result.output)")
        }
        return so
    }

    @Test("the version script lists exactly the header's functions")
    func mapMatchesHeader() throws {
        let functions = try Self.headerFunctions()
        #expect(functions.count >= 23)
        #expect(try Self.mapFunctions() == functions)
    }

    @Test("the header compiles alone as strict C11 and as C++17", arguments: [
        ("gcc", ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-x", "c"]),
        ("g++", ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", "-x", "c++"]),
    ])
    func headerAlone(_ compiler: String, _ flags: [String]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smi-header-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("only.src")
        // Includes only the header, twice (guard), and uses the initializer macro and sizes.
        try """
            #include "smi_engine.h"
            #include "smi_engine.h"
            int main(void) {
                smi_compile_options o = SMI_COMPILE_OPTIONS_INIT;
                return (int)(o.size != sizeof(smi_compile_options)) + (SMI_VERSION_NUMBER > 0 ? 0 : 1);
            }
            """.write(to: source, atomically: true, encoding: .utf8)
        let result = try run(compiler, flags + ["-I", packageRoot.appendingPathComponent("include").path, source.path, "-o", dir.appendingPathComponent("a.out").path])
        #expect(result.status == 0, "\(compiler): \(result.output)")
    }

    @Test("libsmiengine.so exports exactly the header's functions and needs only glibc, PCRE2 and libyaml")
    func sharedLibrary() throws {
        let so = try Self.builtLibrary()
        let nm = try run("nm", ["-D", "--defined-only", "--extern-only", so.path])
        try #require(nm.status == 0, "\(nm.output)")
        let exported = Set(nm.output.split(separator: "\n").compactMap { line -> String? in
            line.split(separator: " ").last.map { String($0.split(separator: "@").first ?? $0) }
        })
        #expect(exported == (try Self.headerFunctions()))
        let readelf = try run("readelf", ["-d", so.path])
        let needed = Set(readelf.output.split(separator: "\n").filter { $0.contains("(NEEDED)") }.compactMap { line -> String? in
            guard let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]") else { return nil }
            return String(line[line.index(after: open)..<close])
        })
        #expect(needed == ["libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "libpcre2-8.so.0", "libyaml-0.so.2"])
        #expect(readelf.output.contains("Library soname: [libsmiengine.so.0]"))
    }

    @Test("a C program links statically against libsmiengine.a and the shared library, and runs without the toolchain")
    func cProgram() throws {
        _ = try Self.builtLibrary()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smi-link-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("main.c")
        try #"""
            #include "smi_engine.h"
            #include <stdio.h>
            #include <string.h>
            #define S(x) ((smi_string){x, sizeof(x) - 1})
            static const char text[] =
                "apiVersion: specs.smi-spec.io/v1alpha4\nkind: HTTPRouteGroup\nmetadata: {name: r, namespace: default}\n"
                "spec:\n  matches:\n  - name: m\n    pathRegex: /api\n---\n"
                "apiVersion: access.smi-spec.io/v1alpha3\nkind: TrafficTarget\nmetadata: {name: t, namespace: default}\n"
                "spec:\n  destination: {kind: ServiceAccount, name: api, namespace: default}\n"
                "  rules: [{kind: HTTPRouteGroup, name: r}]\n  sources: [{kind: ServiceAccount, name: web, namespace: default}]\n";
            int main(void) {
                smi_source source = {S("p.yaml"), {text, sizeof(text) - 1}};
                smi_policy *policy = NULL;
                smi_scratch *scratch = NULL;
                if (smi_version() != SMI_VERSION_NUMBER || smi_abi_version() != SMI_ABI_VERSION) return 2;
                if (smi_policy_compile(&policy, NULL, &source, 1, NULL) != SMI_OK) return 3;
                if (smi_scratch_create(&scratch) != SMI_OK) return 4;
                smi_access_request r;
                memset(&r, 0, sizeof r);
                r.size = sizeof r;
                r.protocol = SMI_PROTOCOL_HTTP;
                r.port = 80;
                r.source_name = S("default/web");
                r.destination_name = S("spiffe://x/ns/default/sa/api");
                r.method = S("GET");
                r.target = S("/api/x");
                smi_access_decision d;
                memset(&d, 0, sizeof d);
                d.size = sizeof d;
                smi_status s = smi_policy_decide_access(&d, policy, scratch, &r);
                printf("%s %d %.*s %.*s\n", smi_status_string(s), d.allowed, (int)d.traffic_target.length, d.traffic_target.data,
                       (int)d.normalized_path.length, d.normalized_path.data);
                printf("%s\n", smi_status_string(smi_policy_decide_access(&d, (smi_policy *)scratch, scratch, &r)));
                smi_scratch_free(scratch);
                smi_policy_release(policy);
                return 0;
            }
            """#.write(to: source, atomically: true, encoding: .utf8)
        let include = packageRoot.appendingPathComponent("include").path
        let staticExe = dir.appendingPathComponent("static").path
        let dynamicExe = dir.appendingPathComponent("dynamic").path
        var r = try run("gcc", ["-std=c11", "-Wall", "-Wextra", "-Werror", "-I", include, source.path, "-o", staticExe,
                                Self.dist.appendingPathComponent("libsmiengine.a").path, "-lpcre2-8", "-lyaml", "-lm", "-lpthread", "-ldl"])
        try #require(r.status == 0, "static link: \(r.output)")
        r = try run("gcc", ["-std=c11", "-I", include, source.path, "-o", dynamicExe, "-L", Self.dist.path, "-lsmiengine",
                            "-Wl,-rpath," + Self.dist.path])
        try #require(r.status == 0, "dynamic link: \(r.output)")
        let expected = "ok 1 default/t /api/x\nwrong kind of handle\n"
        for exe in [staticExe, dynamicExe] {
            // No PATH, no LD_LIBRARY_PATH: the Swift toolchain is out of reach.
            let out = try run(exe, [], environment: [:])
            #expect(out.status == 0 && out.output == expected, "\(exe): \(out.output)")
            let ldd = try run("ldd", [exe])
            #expect(!ldd.output.contains("swift") && !ldd.output.contains("not found"), "\(ldd.output)")
        }
    }
}
