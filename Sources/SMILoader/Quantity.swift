/// Kubernetes resource quantities (`1`, `500m`, `1.5`, `2k`, `1Ki`, `1e3`), read exactly.
///
/// Used for split v1alpha1 weights. The value is converted to milli-units the way Kubernetes'
/// `Quantity.MilliValue()` does: `1` is 1000, and a fraction of a milli-unit rounds up.
enum Quantity {
    /// Why a quantity was refused.
    enum Failure: Error, Equatable {
        /// The text is not a quantity.
        case malformed
        /// The quantity is below zero.
        case negative
        /// The milli-value does not fit in 64 bits.
        case overflow
    }

    /// The quantity's value in milli-units (`1` → 1000, `500m` → 500, `1Ki` → 1024000).
    static func milliValue(_ text: String) -> Result<UInt64, Failure> {
        let bytes = Array(text.utf8)
        var i = 0
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        // Digits of the number with the decimal point removed; `scale` is the power of ten
        // the digit string is multiplied by.
        var digits: [UInt8] = []
        var scale = 0
        var sawDigit = false
        while i < bytes.count, isDigit(bytes[i]) {
            digits.append(bytes[i] - 0x30)
            sawDigit = true
            i += 1
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < bytes.count, isDigit(bytes[i]) {
                digits.append(bytes[i] - 0x30)
                scale -= 1
                sawDigit = true
                i += 1
            }
        }
        guard sawDigit, digits.count <= 1000 else { return .failure(.malformed) }

        // Suffix: binary SI, decimal SI, or a decimal exponent.
        var powerOfTwo = 0
        let suffix = String(decoding: bytes[i...], as: UTF8.self)
        switch suffix {
        case "": break
        case "m": scale -= 3
        case "k": scale += 3
        case "M": scale += 6
        case "G": scale += 9
        case "T": scale += 12
        case "P": scale += 15
        case "E": scale += 18
        case "Ki": powerOfTwo = 10
        case "Mi": powerOfTwo = 20
        case "Gi": powerOfTwo = 30
        case "Ti": powerOfTwo = 40
        case "Pi": powerOfTwo = 50
        case "Ei": powerOfTwo = 60
        default:
            guard bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") else { return .failure(.malformed) }
            var j = i + 1
            var expNegative = false
            if j < bytes.count, bytes[j] == UInt8(ascii: "+") || bytes[j] == UInt8(ascii: "-") {
                expNegative = bytes[j] == UInt8(ascii: "-")
                j += 1
            }
            guard j < bytes.count else { return .failure(.malformed) }
            var exponent = 0
            while j < bytes.count {
                guard isDigit(bytes[j]) else { return .failure(.malformed) }
                // Exponents this large already over- or underflow any weight; clamp to keep arithmetic safe.
                exponent = min(exponent * 10 + Int(bytes[j] - 0x30), 100_000)
                j += 1
            }
            scale += expNegative ? -exponent : exponent
        }

        // Strip leading zeros; a zero quantity is zero whatever its sign or scale.
        while let first = digits.first, first == 0 { digits.removeFirst() }
        if digits.isEmpty { return .success(0) }
        if negative { return .failure(.negative) }

        // Multiply by 2^powerOfTwo in decimal (digits are most significant first).
        for _ in 0..<powerOfTwo { digits = double(digits) }
        // To milli-units.
        scale += 3
        var integerDigits: ArraySlice<UInt8>
        var roundUp = false
        if scale >= 0 {
            guard digits.count + scale <= 20 else { return .failure(.overflow) }
            integerDigits = (digits + [UInt8](repeating: 0, count: scale))[...]
        } else {
            let keep = digits.count + scale
            if keep <= 0 {
                integerDigits = []
                roundUp = true  // the digits are not all zero, so the fraction is positive
            } else {
                integerDigits = digits[..<keep]
                roundUp = digits[keep...].contains { $0 != 0 }
            }
        }
        var value: UInt64 = 0
        for digit in integerDigits {
            let (product, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = product.addingReportingOverflow(UInt64(digit))
            if o1 || o2 { return .failure(.overflow) }
            value = sum
        }
        if roundUp {
            let (sum, overflow) = value.addingReportingOverflow(1)
            if overflow { return .failure(.overflow) }
            value = sum
        }
        return .success(value)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// Doubles a decimal digit string (most significant digit first).
    private static func double(_ digits: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: digits.count)
        var carry: UInt8 = 0
        var index = digits.count
        while index > 0 {
            index -= 1
            let value = digits[index] * 2 + carry
            result[index] = value % 10
            carry = value / 10
        }
        if carry > 0 { result.insert(carry, at: 0) }
        return result
    }
}
