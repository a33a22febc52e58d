#pragma once
// Helpers shared by the views tests: the products, data and tensors they look into by name.

#include <stdexcept>
#include <string>
#include <vector>

#include "pevis/io/model.h"
#include "pevis/output/products.h"

namespace pevis::test {

/// The data matrix `name` among the products; throws when there is none.
inline const LabeledMatrix& matrix_named(const std::vector<Product>& products, const std::string& name) {
  for (const auto& p : products) {
    for (const auto& m : p.data) {
      if (m.name == name) return m;
    }
  }
  throw std::runtime_error("no data " + name);
}

/// The table `name` among the products; throws when there is none.
inline const Table& table_named(const std::vector<Product>& products, const std::string& name) {
  for (const auto& p : products) {
    for (const auto& t : p.tables) {
      if (t.name == name) return t;
    }
  }
  throw std::runtime_error("no table " + name);
}

/// The figure `name` among the products; throws when there is none.
inline const plot::Figure& figure_named(const std::vector<Product>& products, const std::string& name) {
  for (const auto& p : products) {
    if (p.figure.name == name) return p.figure;
  }
  throw std::runtime_error("no figure " + name);
}

/// The data of the model's tensor `name`; throws when there is none.
inline at::Tensor tensor_of(const Model& model, const std::string& name) {
  for (const auto& t : model.tensors) {
    if (t.name == name) return t.tensor();
  }
  throw std::runtime_error("no tensor " + name);
}

}  // namespace pevis::test
