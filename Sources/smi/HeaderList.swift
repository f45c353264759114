import SMIEngine

/// Headers as a request gives them, folded as a proxy would: names that differ only in case
/// are one header, under the first spelling, with the values joined by `, ` in order.
struct HeaderList {
    private(set) var headers: [HTTPHeader] = []
    private var indexByName: [String: Int] = [:]

    mutating func add(name: String, value: String) {
        let folded = name.lowercased()
        if let index = indexByName[folded] {
            headers[index].value += ", " + value
        } else {
            indexByName[folded] = headers.count
            headers.append(HTTPHeader(name, value))
        }
    }
}
