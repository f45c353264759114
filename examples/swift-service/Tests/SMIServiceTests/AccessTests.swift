import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import SMIEngine
import SMIService
import Testing

/// The middleware over real HTTP: a live Hummingbird server on loopback, a client on a socket.
@Suite struct AccessOverHTTPTests {
    @Test func allowedRequestReachesTheHandlerAndNamesTheGrant() async throws {
        let folder = try PolicyFolder()
        defer { folder.remove() }
        try folder.write("policy.yaml", basePolicy)
        let (app, _) = try makeTestService(folder: folder)
        try await app.test(.live) { client in
            let plain = try await client.execute(uri: "/api/items", method: .get, headers: from("default/website"))
            #expect(plain.status == .ok)
            #expect(plain.trafficTarget == "default/website-reads")
            #expect(plain.text == "items for default/website\n")
            #expect(plain.denyReason == nil)

            // A SPIFFE id is the same identity; the query is passed on raw and never judged
            // (an encoded slash there is no bypass attempt on the path).
            let spiffe = try await client.execute(
                uri: "/api/items/42?next=%2Fadmin", method: .get,
                headers: from("spiffe://cluster.local/ns/default/sa/website"))
            #expect(spiffe.status == .ok)
            #expect(spiffe.trafficTarget == "default/website-reads")
            #expect(spiffe.text.hasPrefix("item 42 for spiffe://"))

            // Headers reach the engine, `Host` included (HTTP/1 `Host` arrives as :authority).
            let partner = try await client.execute(
                uri: "/api/items", method: .get, headers: from("default/partner", [("x-tenant", "blue")]))
            #expect(partner.status == .ok)
            #expect(partner.trafficTarget == "default/partner-by-host")

            // Allowed by the policy (`/api/items` is open at the end), served by no route: the
            // router's 404 still names the grant.
            let unrouted = try await client.execute(uri: "/api/items-archive", method: .get, headers: from("default/website"))
            #expect(unrouted.status == .notFound)
            #expect(unrouted.trafficTarget == "default/website-reads")
        }
    }

    @Test func eachEngineDenyReasonComesBackAs403WithTheReason() async throws {
        let folder = try PolicyFolder()
        defer { folder.remove() }
        try folder.write("policy.yaml", basePolicy)
        let (app, _) = try makeTestService(folder: folder)
        try await app.test(.live) { client in
            // (uri, method, source, extra headers, expected reason)
            let cases: [(String, HTTPRequest.Method, String, [(String, String)], DenyReason)] = [
                ("/api/items", .get, "default/intruder", [], .sourceNotAllowed),
                ("/api/items", .get, "spiffe://cluster.local/ns/other/sa/website", [], .sourceNotAllowed),
                ("/api/items", .post, "default/website", [], .noRouteMatched),  // method
                ("/api/orders", .get, "default/website", [], .noRouteMatched),  // path, and no 404 leak
                ("/api/items", .get, "default/partner", [("x-tenant", "red")], .noRouteMatched),  // header
                ("/api/items", .get, "default/prometheus", [], .portNotAllowed),  // only port 9
                ("/api/items%2F..%2Fadmin", .get, "default/website", [], .pathRejected),
            ]
            for (uri, method, source, extra, reason) in cases {
                let response = try await client.execute(uri: uri, method: method, headers: from(source, extra))
                #expect(response.status == .forbidden, "\(method) \(uri) from \(source)")
                #expect(response.denyReason == reason.rawValue, "\(method) \(uri) from \(source)")
                #expect(response.text == "forbidden: \(reason.rawValue)\n")
                #expect(response.trafficTarget == nil)
            }
        }
    }

    @Test func aDestinationNoTrafficTargetNamesIsDenied() async throws {
        let folder = try PolicyFolder()
        defer { folder.remove() }
        try folder.write("policy.yaml", basePolicy)
        let (app, _) = try makeTestService(folder: folder, destination: "default/billing")
        try await app.test(.live) { client in
            let response = try await client.execute(uri: "/api/items", method: .get, headers: from("default/website"))
            #expect(response.status == .forbidden)
            #expect(response.denyReason == DenyReason.noTrafficTarget.rawValue)
        }
    }

    @Test func aMissingOrRepeatedIdentityHeaderIsDeniedBeforeTheEngine() async throws {
        let folder = try PolicyFolder()
        defer { folder.remove() }
        try folder.write("policy.yaml", basePolicy)
        let (app, _) = try makeTestService(folder: folder)
        try await app.test(.live) { client in
            let none = try await client.execute(uri: "/api/items", method: .get)
            #expect(none.status == .forbidden)
            #expect(none.denyReason == SMIServiceDenyReason.missingSourceIdentity.rawValue)

            let empty = try await client.execute(uri: "/api/items", method: .get, headers: from(""))
            #expect(empty.status == .forbidden)
            #expect(empty.denyReason == SMIServiceDenyReason.missingSourceIdentity.rawValue)

            // Two identities: neither is trusted, even when one of them is allowed.
            let twice = try await client.execute(
                uri: "/api/items", method: .get, headers: from("default/website", [("x-smi-source", "default/intruder")]))
            #expect(twice.status == .forbidden)
            #expect(twice.denyReason == SMIServiceDenyReason.ambiguousSourceIdentity.rawValue)
        }
    }

    @Test func theServiceDoesNotStartOnAPolicyThatDoesNotCompile() throws {
        let folder = try PolicyFolder()
        defer { folder.remove() }
        try folder.write("broken.yaml", brokenPolicy)
        let error = #expect(throws: PolicyCompileError.self) {
            _ = try makeTestService(folder: folder)
        }
        #expect(error?.diagnostics.contains { $0.severity == .error && $0.location?.file.hasSuffix("broken.yaml") == true } == true)
    }
}
