# %% [markdown]
# # t6_devices

# %%
print(1)
