import SMIBytecode

/// A header as raw bytes, borrowed from the caller for the duration of one decision.
public struct RawHeader: @unchecked Sendable {
    /// The name's bytes.
    public var name: UnsafeRawBufferPointer
    /// The value's bytes.
    public var value: UnsafeRawBufferPointer

    /// Creates a header view.
    public init(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        self.name = name
        self.value = value
    }
}

/// An access request with identities already resolved to name indices
/// (``ExecutablePolicy/resolveIdentity(_:)``); byte views are borrowed for one decision.
public struct AccessQuery: @unchecked Sendable {
    /// The source's name index, or ``ExecutablePolicy/unknownName``.
    public var source: UInt32
    /// The destination's name index, or ``ExecutablePolicy/unknownName``.
    public var destination: UInt32
    /// The destination port.
    public var port: UInt32
    /// The protocol.
    public var proto: ProtocolCode
    /// The method's bytes (http).
    public var method: UnsafeRawBufferPointer
    /// The request target's bytes (http).
    public var target: UnsafeRawBufferPointer
    /// The headers (http).
    public var headers: UnsafeBufferPointer<RawHeader>

    /// Creates a query.
    public init(
        source: UInt32, destination: UInt32, port: UInt32, proto: ProtocolCode,
        method: UnsafeRawBufferPointer, target: UnsafeRawBufferPointer, headers: UnsafeBufferPointer<RawHeader>
    ) {
        self.source = source
        self.destination = destination
        self.port = port
        self.proto = proto
        self.method = method
        self.target = target
        self.headers = headers
    }
}

/// The outcome of an access decision, as indices into the program.
public struct AccessResult: Sendable, Hashable {
    /// Whether the request may pass.
    public var allowed: Bool
    /// The deny reason (meaningless when allowed).
    public var reason: DenyCode
    /// The grant index when allowed, else ``noIndex``.
    public var grant: UInt32
}

/// A split request with the root service resolved to a name index.
public struct SplitQuery: @unchecked Sendable {
    /// The root service's name index, or ``ExecutablePolicy/unknownName``.
    public var service: UInt32
    /// Caller entropy.
    public var entropy: UInt64
    /// The method's bytes, when known.
    public var method: UnsafeRawBufferPointer?
    /// The request target's bytes, when known.
    public var target: UnsafeRawBufferPointer?
    /// The headers.
    public var headers: UnsafeBufferPointer<RawHeader>
    /// The port, when known.
    public var port: UInt32?

    /// Creates a query.
    public init(
        service: UInt32, entropy: UInt64, method: UnsafeRawBufferPointer?, target: UnsafeRawBufferPointer?,
        headers: UnsafeBufferPointer<RawHeader>, port: UInt32?
    ) {
        self.service = service
        self.entropy = entropy
        self.method = method
        self.target = target
        self.headers = headers
        self.port = port
    }
}

/// The outcome of a split decision.
public struct SplitResult: Sendable, Hashable {
    /// The chosen backend's name index, or ``noIndex`` when the answer is the root service.
    public var backend: UInt32
    /// The deciding split's name index, or ``noIndex``.
    public var split: UInt32
}
