import Foundation
import PetalCore

/// Hands out weights by name while a model is built (like Candle's VarBuilder): each layer
/// `take`s its tensors with the shape it expects, and `finish()` reports tensors nobody took,
/// which usually means a file for another architecture.
///
/// A store is a reference shared by its scoped views, so `finish()` on the root sees what
/// every scope took. An empty store (`WeightStore.randomInit`) answers nil to `takeIfPresent`
/// and lets models initialize their own weights.
public final class WeightStore: @unchecked Sendable {  // unchecked: mutable state behind `lock`
    private let tensors: [String: Tensor]
    /// Names in file order, for messages and listing.
    public let names: [String]
    /// Where the tensors came from (file path), for error messages.
    public let source: String
    private var taken = Set<String>()
    private var ignoredPrefixes: [String] = []
    private let lock = NSLock()

    public init(tensors: [String: Tensor], names: [String]? = nil, source: String) {
        self.tensors = tensors
        self.names = names ?? tensors.keys.sorted()
        self.source = source
    }

    public convenience init(_ file: WeightFile) {
        self.init(tensors: file.tensors, names: file.names, source: file.url.path)
    }

    /// Reads any supported weights file into a store.
    public convenience init(contentsOf url: URL) throws {
        self.init(try WeightFile.read(url))
    }

    /// A store without weights, for models built with random initialization.
    public static var randomInit: WeightStore { WeightStore(tensors: [:], names: [], source: "random initialization") }

    public var isEmpty: Bool { tensors.isEmpty }
    public var count: Int { tensors.count }

    public func contains(_ name: String) -> Bool { tensors[name] != nil }

    public func shape(of name: String) -> [Int]? { tensors[name]?.shape }

    /// The tensor `name`, which must have shape `expected`.
    public func take(_ name: String, shape expected: [Int]) throws -> Tensor {
        guard let tensor = tensors[name] else { throw WeightError.missingTensor(name: name, source: source) }
        guard tensor.shape == expected || (expected.isEmpty && tensor.shape == [1]) else {
            throw WeightError.shapeMismatch(name: name, expected: expected, found: tensor.shape, source: source)
        }
        lock.lock()
        taken.insert(name)
        lock.unlock()
        return tensor
    }

    /// Like `take`, but nil when the store has no such tensor (a model may then initialize it).
    public func takeIfPresent(_ name: String, shape expected: [Int]) throws -> Tensor? {
        tensors[name] == nil ? nil : try take(name, shape: expected)
    }

    /// Names that start with `prefix` are not reported by `finish()` (e.g. a classifier top).
    public func ignore(prefix: String) {
        lock.lock()
        ignoredPrefixes.append(prefix)
        lock.unlock()
    }

    /// Names never taken and not ignored, in file order.
    public var unused: [String] {
        lock.lock()
        defer { lock.unlock() }
        return names.filter { !taken.contains($0) && !ignoredPrefixes.contains(where: $0.hasPrefix) }
    }

    /// Throws when some tensors were never taken and not ignored.
    public func finish() throws {
        let left = unused
        if !left.isEmpty { throw WeightError.unusedTensors(names: left, source: source) }
    }

    /// A view that prepends `prefix` to every name (`store.scoped("block_1_")`, `scoped("_blocks.3.")`).
    public func scoped(_ prefix: String) -> WeightScope { WeightScope(store: self, prefix: prefix) }
}

/// A prefix over a `WeightStore`; scopes nest (`store.scoped("_blocks.").scoped("3.")`).
public struct WeightScope {
    public let store: WeightStore
    public let prefix: String

    public func take(_ name: String, shape: [Int]) throws -> Tensor { try store.take(prefix + name, shape: shape) }

    public func takeIfPresent(_ name: String, shape: [Int]) throws -> Tensor? {
        try store.takeIfPresent(prefix + name, shape: shape)
    }

    public func contains(_ name: String) -> Bool { store.contains(prefix + name) }

    public func scoped(_ more: String) -> WeightScope { WeightScope(store: store, prefix: prefix + more) }
}
