#include "runtime/model.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "core/error.h"
#include "core/hash.h"
#include "core/limits.h"
#include "runtime/safetensors.h"

namespace bitlane {

using json = nlohmann::json;

class Model::WeightStore : public ops::Weights {
 public:
  std::shared_ptr<const Tensor> find(const std::string& name) const override {
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : it->second;
  }
  const std::string& origin() const override { return file; }

  std::string file = "(no weights file)";
  std::map<std::string, std::shared_ptr<const Tensor>> tensors;
};

namespace {

std::string dir_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
}

// Typed access to JSON fields with errors that name the field.
struct Fields {
  const json& j;
  std::string where;

  const json& need(const char* key) const {
    if (!j.is_object() || !j.contains(key)) fail(where, std::string("missing field '") + key + "'");
    return j.at(key);
  }
  std::string string(const char* key, const char* fallback = nullptr) const {
    if (fallback && (!j.is_object() || !j.contains(key))) return fallback;
    const json& v = need(key);
    if (!v.is_string()) fail(where + ": field '" + key + "'", "must be a string, got " + v.dump());
    return v.get<std::string>();
  }
  std::vector<std::string> strings(const char* key) const {
    const json& v = need(key);
    if (!v.is_array()) fail(where + ": field '" + key + "'", "must be a list of strings");
    std::vector<std::string> out;
    for (const json& s : v) {
      if (!s.is_string()) fail(where + ": field '" + key + "'", "must be a list of strings, got " + s.dump());
      out.push_back(s.get<std::string>());
    }
    return out;
  }
  void only(std::initializer_list<const char*> allowed) const {
    if (!j.is_object()) fail(where, "must be a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it)
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return it.key() == a; }))
        fail(where + ": field '" + it.key() + "'", "unknown field");
  }
};

Preprocessing parse_preprocessing(const json& j, const std::string& where) {
  Fields f{j, where};
  f.only({"color", "size", "scale", "mean", "std", "resize"});
  Preprocessing p;
  p.color = f.string("color", "gray");
  if (p.color != "gray" && p.color != "rgb" && p.color != "bgr")
    fail(where + ": field 'color'", "must be gray, rgb or bgr, got '" + p.color + "'");
  const json& size = f.need("size");
  if (!size.is_array() || size.size() != 2 || !size[0].is_number_integer() ||
      !size[1].is_number_integer() || size[0].get<int64_t>() < 1 || size[1].get<int64_t>() < 1)
    fail(where + ": field 'size'", "must be [height, width] of positive integers");
  p.height = size[0].get<int64_t>();
  p.width = size[1].get<int64_t>();
  if (j.contains("scale")) {
    if (!j["scale"].is_number()) fail(where + ": field 'scale'", "must be a number");
    p.scale = j["scale"].get<float>();
  }
  const size_t channels = p.color == "gray" ? 1 : 3;
  for (const char* key : {"mean", "std"}) {
    std::vector<float>& dst = key[0] == 'm' ? p.mean : p.std;
    dst.assign(channels, key[0] == 'm' ? 0.f : 1.f);
    if (!j.contains(key)) continue;
    const json& v = j[key];
    if (!v.is_array() || v.size() != channels)
      fail(where + ": field '" + key + "'", "must list one number per channel (" + std::to_string(channels) + ")");
    for (size_t i = 0; i < channels; ++i) {
      if (!v[i].is_number()) fail(where + ": field '" + key + "'", "must hold numbers");
      dst[i] = v[i].get<float>();
    }
  }
  for (float s : p.std)
    if (!(s > 0.f)) fail(where + ": field 'std'", "must be positive");
  p.resize = f.string("resize", "bilinear");
  if (p.resize != "bilinear" && p.resize != "nearest")
    fail(where + ": field 'resize'", "must be bilinear or nearest");
  return p;
}

// The graph text of a file or a buffer: size limit, empty, JSON syntax.
json parse_graph_json(std::string_view text, const std::string& origin) {
  if (text.size() > limits().max_json_bytes)
    fail(origin, "model graph of " + std::to_string(text.size()) + " bytes exceeds the limit");
  if (text.empty()) fail(origin, "empty file (0 bytes), not a model graph");
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(origin, std::string("not valid JSON: ") + e.what());
  }
}

}  // namespace

std::shared_ptr<const Model> Model::load(const std::string& json_path, const LoadOptions& options) {
  const std::vector<uint8_t> text = read_file(json_path);
  const json j = parse_graph_json(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()),
                                  json_path);
  auto m = std::shared_ptr<Model>(new Model());
  m->origin_ = json_path;
  m->directory_ = dir_of(json_path);
  m->parse_json(j);
  if (options.random_weights) {
    const json shapes = j.contains("metadata") && j["metadata"].is_object()
                            ? j["metadata"].value("weight_shapes", json::object())
                            : json::object();
    if (!shapes.is_object() || shapes.empty())
      fail(json_path, "random weights need \"metadata\": {\"weight_shapes\": {name: shape}} in the model");
    m->weights_ = std::make_shared<WeightStore>();
    m->weights_->file = json_path + " (random weights)";
    uint32_t state = 12345;
    for (auto it = shapes.begin(); it != shapes.end(); ++it) {
      Shape shape;
      if (!it.value().is_array()) fail(json_path + ": metadata: weight_shapes", "shapes must be lists");
      for (const json& d : it.value()) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0) fail(json_path + ": metadata: weight_shapes", "bad shape");
        shape.push_back(d.get<int64_t>());
      }
      Tensor t(shape);
      for (int64_t i = 0; i < t.size(); ++i) {  // small deterministic values in [-0.1, 0.1)
        state = state * 1664525u + 1013904223u;
        t.f32()[i] = (static_cast<float>(state >> 8) / 16777216.f - 0.5f) * 0.2f;
      }
      m->weights_->tensors[it.key()] = std::make_shared<const Tensor>(std::move(t));
    }
  } else if (!m->weights_file_.empty()) {
    const std::string path = m->weights_file_[0] == '/' ? m->weights_file_
                                                        : m->directory_ + "/" + m->weights_file_;
    const SafeTensorsFile st = SafeTensorsFile::load(path);
    m->weights_ = std::make_shared<WeightStore>();
    m->weights_->file = path;
    for (const SafeTensor& t : st.tensors())
      m->weights_->tensors[t.name] = std::make_shared<const Tensor>(st.read_f32(t));
  } else {
    m->weights_ = std::make_shared<WeightStore>();
  }
  m->link_graph(j.at("nodes"));
  return m;
}

std::shared_ptr<const Model> Model::parse(std::string_view json_text, std::vector<uint8_t> weights_bytes,
                                          const std::string& origin) {
  const json j = parse_graph_json(json_text, origin);
  auto m = std::shared_ptr<Model>(new Model());
  m->origin_ = origin;
  m->directory_ = ".";
  m->parse_json(j);
  m->weights_ = std::make_shared<WeightStore>();
  if (!weights_bytes.empty() || !m->weights_file_.empty()) {
    const std::string where = origin + " (weights)";
    const SafeTensorsFile st = SafeTensorsFile::parse(std::move(weights_bytes), where);
    m->weights_->file = where;
    for (const SafeTensor& t : st.tensors())
      m->weights_->tensors[t.name] = std::make_shared<const Tensor>(st.read_f32(t));
  }
  m->link_graph(j.at("nodes"));
  return m;
}

void Model::parse_json(const json& j) {
  Fields f{j, origin_};
  f.only({"format_version", "name", "description", "weights", "inputs", "outputs", "labels",
          "vocabulary", "quantization", "calibration", "nodes", "metadata"});
  const json& version = f.need("format_version");
  if (!version.is_number_integer())
    fail(origin_ + ": field 'format_version'", "must be an integer");
  if (version.get<int64_t>() != kFormatVersion)
    fail(origin_, "format_version " + version.dump() + " is not supported (this bitlane reads " +
                      std::to_string(kFormatVersion) + ")");
  name_ = f.string("name", "");
  description_ = f.string("description", "");
  weights_file_ = f.string("weights", "");

  const json& inputs = f.need("inputs");
  if (!inputs.is_array() || inputs.empty()) fail(origin_ + ": field 'inputs'", "must be a non-empty list");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string where = origin_ + ": inputs[" + std::to_string(i) + "]";
    Fields in{inputs[i], where};
    in.only({"name", "shape", "dtype", "layout", "preprocessing"});
    InputSpec spec;
    spec.name = in.string("name");
    const json& shape = in.need("shape");
    if (!shape.is_array() || shape.size() + 1 > static_cast<size_t>(limits().max_rank))
      fail(where + ": field 'shape'", "must be a list of at most " + std::to_string(limits().max_rank - 1) + " sizes");
    for (const json& d : shape) {
      if (!d.is_number_integer() || (d.get<int64_t>() < 1 && d.get<int64_t>() != -1))
        fail(where + ": field 'shape'", "sizes must be positive integers or -1, got " + shape.dump());
      spec.shape.push_back(d.get<int64_t>());
    }
    const std::string dtype = in.string("dtype", "float32");
    if (dtype == "float32") spec.dtype = DType::kF32;
    else if (dtype == "int32") spec.dtype = DType::kI32;
    else fail(where + ": field 'dtype'", "must be float32 or int32, got '" + dtype + "'");
    spec.layout = in.string("layout", "");
    if (inputs[i].contains("preprocessing"))
      spec.preprocessing = parse_preprocessing(inputs[i]["preprocessing"], where + ": preprocessing");
    if (spec.preprocessing) {
      // [C, H, W], or a flat input of C*H*W values (an MLP on images: the
      // image flattened in C, H, W order, as torch's x.view(N, -1)).
      const int64_t channels = spec.preprocessing->color == "gray" ? 1 : 3;
      const Shape image{channels, spec.preprocessing->height, spec.preprocessing->width};
      if (spec.shape != image && spec.shape != Shape{image[0] * image[1] * image[2]})
        fail(where, "preprocessing produces " + shape_str(image) + " (" + std::to_string(image[0] * image[1] * image[2]) +
                        " values) but the input shape is " + shape_str(spec.shape) +
                        " (expected " + shape_str(image) + " or [" + std::to_string(image[0] * image[1] * image[2]) + "])");
    }
    inputs_.push_back(std::move(spec));
  }
  if (j.contains("labels")) labels_ = f.strings("labels");
  if (j.contains("vocabulary")) vocabulary_ = f.strings("vocabulary");
  if (j.contains("quantization")) {
    plan_ = quant::QuantPlan::from_json(j["quantization"], origin_ + ": quantization");
    has_plan_ = true;
  }
  if (j.contains("calibration")) {
    Fields c{j["calibration"], origin_ + ": calibration"};
    c.only({"file", "tensor"});
    c.string("file");
    c.string("tensor");
    calibration_ = j["calibration"];
  }
  const json& outputs = f.need("outputs");
  if (!outputs.is_array() || outputs.empty()) fail(origin_ + ": field 'outputs'", "must be a non-empty list");
  for (size_t i = 0; i < outputs.size(); ++i) {
    Fields o{outputs[i], origin_ + ": outputs[" + std::to_string(i) + "]"};
    o.only({"name"});
    output_names_.push_back(o.string("name"));
  }
  const json& nodes = f.need("nodes");
  if (!nodes.is_array()) fail(origin_ + ": field 'nodes'", "must be a list");
  if (static_cast<int64_t>(nodes.size()) > limits().max_nodes)
    fail(origin_, std::to_string(nodes.size()) + " nodes exceed the limit of " + std::to_string(limits().max_nodes));
}

void Model::link_graph(const json& nodes) {
  std::map<std::string, int> ids;
  std::map<std::string, std::string> producer;  // tensor -> "input" or node name
  auto define = [&](const std::string& tensor, const std::string& by) {
    if (tensor.empty()) fail(origin_ + ": " + by, "empty tensor name");
    auto [it, fresh] = producer.emplace(tensor, by);
    if (!fresh)
      fail(origin_, "tensor '" + tensor + "' is produced twice: by " + it->second + " and by " + by);
    ids[tensor] = static_cast<int>(tensor_names_.size());
    tensor_names_.push_back(tensor);
    return ids[tensor];
  };
  for (const InputSpec& in : inputs_) input_ids_.push_back(define(in.name, "model input '" + in.name + "'"));

  std::set<std::string> names;
  std::vector<std::vector<std::string>> node_inputs;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string where = origin_ + ": nodes[" + std::to_string(i) + "]";
    Fields f{nodes[i], where};
    f.only({"op", "name", "inputs", "outputs", "attributes"});
    Node n;
    n.op = f.string("op");
    n.name = f.string("name", ("node" + std::to_string(i)).c_str());
    const std::string at = origin_ + ": node '" + n.name + "'";
    if (!ops::find_op(n.op)) {
      std::string known;
      for (const auto& t : ops::op_types()) known += (known.empty() ? "" : ", ") + t;
      fail(at, "unknown op '" + n.op + "' (known: " + known + ")");
    }
    if (!names.insert(n.name).second) fail(at, "duplicate node name");
    Fields nf{nodes[i], at};
    node_inputs.push_back(nf.strings("inputs"));
    for (const std::string& o : nf.strings("outputs")) n.outputs.push_back(define(o, "node '" + n.name + "'"));
    if (n.outputs.empty()) fail(at, "has no outputs");
    n.attributes = nodes[i].contains("attributes") ? nodes[i]["attributes"] : json::object();
    if (!n.attributes.is_object()) fail(at + ": field 'attributes'", "must be an object");
    nodes_.push_back(std::move(n));
  }
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (const std::string& t : node_inputs[i]) {
      auto it = ids.find(t);
      if (it == ids.end())
        fail(origin_ + ": node '" + nodes_[i].name + "'",
             "input '" + t + "' is not a model input nor any node's output");
      nodes_[i].inputs.push_back(it->second);
    }
  for (const std::string& o : output_names_) {
    auto it = ids.find(o);
    if (it == ids.end()) fail(origin_ + ": outputs", "'" + o + "' is not a model input nor any node's output");
    output_ids_.push_back(it->second);
  }
  order_graph();
  validate_ops();
  infer_shapes();
  fold_batch_norms();
  fuse_residuals();
  fuse_activations();
  order_graph();
  infer_shapes();
}

void Model::order_graph() {
  // Kahn's algorithm: a node is ready once all its inputs exist.
  const int tensors = static_cast<int>(tensor_names_.size());
  std::vector<int> producer(static_cast<size_t>(tensors), -1), level(static_cast<size_t>(tensors), 0);
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (int o : nodes_[i].outputs) producer[static_cast<size_t>(o)] = static_cast<int>(i);
  std::vector<int> pending(nodes_.size());
  std::vector<std::vector<int>> users(static_cast<size_t>(tensors));
  std::vector<int> ready;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (int t : nodes_[i].inputs)
      if (producer[static_cast<size_t>(t)] >= 0) {
        ++pending[i];
        users[static_cast<size_t>(t)].push_back(static_cast<int>(i));
      }
    if (!pending[i]) ready.push_back(static_cast<int>(i));
  }
  std::vector<int> order;
  std::vector<int> node_level(nodes_.size(), 0);
  while (!ready.empty()) {
    const int n = ready.back();
    ready.pop_back();
    order.push_back(n);
    int lv = 0;
    for (int t : nodes_[static_cast<size_t>(n)].inputs) lv = std::max(lv, level[static_cast<size_t>(t)]);
    node_level[static_cast<size_t>(n)] = lv;
    if (lv + 1 > limits().max_graph_depth) fail(origin_, "graph is deeper than the limit");
    for (int o : nodes_[static_cast<size_t>(n)].outputs) {
      level[static_cast<size_t>(o)] = lv + 1;
      for (int u : users[static_cast<size_t>(o)])
        if (--pending[static_cast<size_t>(u)] == 0) ready.push_back(u);
    }
  }
  if (order.size() != nodes_.size()) {
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (pending[i])
        fail(origin_ + ": node '" + nodes_[i].name + "'", "is part of a cycle in the graph");
  }
  // Stable order: by level, then by position in the file.
  std::vector<int> idx(nodes_.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int>(i);
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
    return node_level[static_cast<size_t>(a)] < node_level[static_cast<size_t>(b)];
  });
  std::vector<Node> sorted;
  levels_.clear();
  for (int i : idx) {
    const size_t lv = static_cast<size_t>(node_level[static_cast<size_t>(i)]);
    if (levels_.size() <= lv) levels_.resize(lv + 1);
    levels_[lv].push_back(static_cast<int>(sorted.size()));
    sorted.push_back(std::move(nodes_[static_cast<size_t>(i)]));
  }
  nodes_ = std::move(sorted);
}

const ops::Weights& Model::weights() const { return *weights_; }

uint64_t Model::content_hash() const {
  Hash64 h;
  h.word(nodes_.size());
  for (const Node& n : nodes_) {
    h.text(n.op).text(n.name).text(n.attributes.dump());
    h.word(n.inputs.size()).word(n.outputs.size());
    for (int t : n.inputs) h.word(static_cast<uint64_t>(t));
    for (int t : n.outputs) h.word(static_cast<uint64_t>(t));
  }
  h.word(tensor_names_.size());
  for (const std::string& name : tensor_names_) h.text(name);
  h.word(weights_->tensors.size());
  for (const auto& [name, t] : weights_->tensors) {  // a std::map: in name order
    h.text(name).word(static_cast<uint64_t>(t->dtype())).word(t->shape().size());
    for (int64_t d : t->shape()) h.word(static_cast<uint64_t>(d));
    h.bytes(t->data(), static_cast<size_t>(t->size()) * dtype_size(t->dtype()));
  }
  return h.digest();
}

std::unique_ptr<ops::Op> Model::build_op(const Node& n) const {
  ops::OpBuilder b(node_where(n), n.name, n.attributes, *weights_);
  std::unique_ptr<ops::Op> op = ops::find_op(n.op)(b);
  b.check_unknown_attributes();
  return op;
}

void Model::validate_ops() {
  // Outputs named by the model must exist.
  std::set<std::string> used;
  for (const Node& n : nodes_) {
    ops::OpBuilder b(node_where(n), n.name, n.attributes, *weights_);
    std::unique_ptr<ops::Op> op = ops::find_op(n.op)(b);
    b.check_unknown_attributes();
    used.insert(b.used_weights().begin(), b.used_weights().end());
  }
  for (const auto& [name, t] : weights_->tensors)
    if (!used.count(name))
      fail(weights_->file, "weight '" + name + "' is not used by any node of " + origin_);
}

// The skeleton of the fusions below: for node n and its input `input`, when
// that tensor is written by a node p and read by n alone, fold(n, input, p)
// may fold n into p (returning true); p then writes n's outputs and n is
// dropped. Nodes are visited in order, so chains fold step by step.
void Model::fold_into_producers(const std::function<bool(Node&, size_t, Node&)>& fold) {
  std::vector<int> consumers(tensor_names_.size(), 0);
  for (const Node& n : nodes_)
    for (int t : n.inputs) ++consumers[static_cast<size_t>(t)];
  for (int t : output_ids_) ++consumers[static_cast<size_t>(t)];
  std::vector<int> producer(tensor_names_.size(), -1);
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (int o : nodes_[i].outputs) producer[static_cast<size_t>(o)] = static_cast<int>(i);
  std::vector<bool> removed(nodes_.size(), false);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const int t = n.inputs[k], p = producer[static_cast<size_t>(t)];
      if (p < 0 || consumers[static_cast<size_t>(t)] != 1) continue;
      Node& prev = nodes_[static_cast<size_t>(p)];
      if (!fold(n, k, prev)) continue;
      prev.outputs = n.outputs;
      for (int o : n.outputs) producer[static_cast<size_t>(o)] = p;
      removed[i] = true;
      break;
    }
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!removed[i]) kept.push_back(std::move(nodes_[i]));
  nodes_ = std::move(kept);
}

void Model::fold_batch_norms() {
  fold_into_producers([&](Node& bn, size_t, Node& prev) {
    if (bn.op != "batch_norm" || bn.inputs.size() != 1) return false;
    if (prev.op != "conv2d" && prev.op != "dense") return false;
    auto w = weights_->find(prev.attributes.value("weight", ""));
    // The batch norm must act on the layer's output channels (axis 1).
    const Shape& shape = tensor_shapes_[static_cast<size_t>(bn.inputs[0])];
    const size_t rank = prev.op == "dense" ? 2 : 4;
    if (!w || shape.size() != rank || shape[1] != w->dim(0)) return false;
    auto get = [&](const char* key) { return weights_->find(bn.attributes.value(key, "")); };
    auto scale = get("scale"), bias = get("bias"), mean = get("mean"), var = get("var");
    const float eps = bn.attributes.value("epsilon", 1e-5f);
    const int64_t channels = w->dim(0);
    if (!scale || scale->size() != channels) return false;  // validate_ops reports real errors
    Tensor nw(w->shape()), nb(Shape{channels});
    const int64_t per = w->size() / channels;
    auto old_bias = weights_->find(prev.attributes.value("bias", ""));
    for (int64_t c = 0; c < channels; ++c) {
      const float s = scale->f32()[c] / std::sqrt(var->f32()[c] + eps);
      for (int64_t k = 0; k < per; ++k) nw.f32()[c * per + k] = w->f32()[c * per + k] * s;
      const float b0 = old_bias ? old_bias->f32()[c] : 0.f;
      nb.f32()[c] = (b0 - mean->f32()[c]) * s + bias->f32()[c];
    }
    const std::string wname = prev.attributes["weight"].get<std::string>() + "@" + bn.name;
    const std::string bname = prev.name + ".bias@" + bn.name;
    weights_->tensors[wname] = std::make_shared<const Tensor>(std::move(nw));
    weights_->tensors[bname] = std::make_shared<const Tensor>(std::move(nb));
    prev.attributes["weight"] = wname;
    prev.attributes["bias"] = bname;
    return true;
  });
}

// add(conv(x), s) -> conv(x, residual s) when the add is the convolution's
// only reader (and the convolution has no activation yet): the convolution
// adds s to its outputs before the activation, in its epilogue, and saves a
// pass over both tensors. A relu after the add then fuses as usual.
void Model::fuse_residuals() {
  fold_into_producers([](Node& add, size_t side, Node& conv) {
    if (add.op != "add" || add.inputs.size() != 2 || add.attributes.contains("constant")) return false;
    if (conv.op != "conv2d" || conv.inputs.size() != 1 || conv.attributes.contains("activation")) return false;
    // The add's other input cannot depend on the convolution's output: the
    // add is that output's only reader.
    conv.inputs.push_back(add.inputs[1 - side]);
    conv.attributes["residual"] = true;
    return true;
  });
}

void Model::fuse_activations() {
  fold_into_producers([](Node& act, size_t, Node& prev) {
    if ((act.op != "relu" && act.op != "relu6") || act.inputs.size() != 1) return false;
    if ((prev.op != "conv2d" && prev.op != "dense") || prev.attributes.contains("activation")) return false;
    prev.attributes["activation"] = act.op;
    return true;
  });
}

void Model::infer_shapes() {
  tensor_shapes_.assign(tensor_names_.size(), Shape{});
  tensor_dtypes_.assign(tensor_names_.size(), DType::kF32);
  std::vector<bool> known(tensor_names_.size(), false);
  for (size_t i = 0; i < inputs_.size(); ++i) {
    Shape s{1};
    for (int64_t d : inputs_[i].shape) s.push_back(d < 0 ? 1 : d);
    numel(s, (origin_ + ": input '" + inputs_[i].name + "'").c_str());
    tensor_shapes_[static_cast<size_t>(input_ids_[i])] = s;
    tensor_dtypes_[static_cast<size_t>(input_ids_[i])] = inputs_[i].dtype;
    known[static_cast<size_t>(input_ids_[i])] = true;
  }
  for (const Node& n : nodes_) {
    std::unique_ptr<ops::Op> op = build_op(n);
    std::vector<Shape> in;
    std::vector<DType> dt;
    for (int t : n.inputs) {
      in.push_back(tensor_shapes_[static_cast<size_t>(t)]);
      dt.push_back(tensor_dtypes_[static_cast<size_t>(t)]);
    }
    if (!op->accepts(dt)) {
      std::string got;
      for (DType d : dt) got += std::string(got.empty() ? "" : ", ") + dtype_name(d);
      fail(node_where(n), "does not accept inputs of type " + got);
    }
    const std::vector<Shape> out = op->infer(in);
    if (out.size() != n.outputs.size())
      fail(node_where(n), "produces " + std::to_string(out.size()) + " outputs but the node lists " +
                              std::to_string(n.outputs.size()));
    for (size_t k = 0; k < out.size(); ++k) {
      numel(out[k], (node_where(n) + ": output").c_str());
      tensor_shapes_[static_cast<size_t>(n.outputs[k])] = out[k];
      tensor_dtypes_[static_cast<size_t>(n.outputs[k])] = op->output_dtype(dt);
    }
  }
}

}  // namespace bitlane
